"""``/api/v1/oauth-clients``: the OAuth clients a project registers, per app. Secrets go in only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from gatekey.api.deps import ActorDep, ServiceDep
from gatekey.api.schemas import OAuthClientCreate, OAuthClientUpdate
from gatekey.models import OAuthClient

router = APIRouter(prefix="/api/v1/oauth-clients", tags=["oauth"])
ClientId = Annotated[str, Path(max_length=64, examples=["oac_01JD3W6ZK2Q8V5N0C7H9X4T1RB"])]


@router.get("", response_model=list[OAuthClient])
def list_oauth_clients(actor: ActorDep, service: ServiceDep) -> list[OAuthClient]:
    return service.oauth_clients.list(actor)


@router.post("", response_model=OAuthClient, status_code=201)
def register_oauth_client(
    body: OAuthClientCreate, actor: ActorDep, service: ServiceDep
) -> OAuthClient:
    return service.oauth_clients.register(
        actor,
        app=body.app,
        client_id=body.client_id,
        client_secret=body.client_secret.get_secret_value(),
        scopes=body.scopes,
    )


@router.get("/{oauth_client_id}", response_model=OAuthClient)
def get_oauth_client(
    oauth_client_id: ClientId, actor: ActorDep, service: ServiceDep
) -> OAuthClient:
    return service.oauth_clients.get(actor, oauth_client_id)


@router.patch("/{oauth_client_id}", response_model=OAuthClient)
def update_oauth_client(
    oauth_client_id: ClientId, body: OAuthClientUpdate, actor: ActorDep, service: ServiceDep
) -> OAuthClient:
    return service.oauth_clients.update(
        actor,
        oauth_client_id,
        client_id=body.client_id,
        client_secret=body.client_secret.get_secret_value() if body.client_secret else None,
        scopes=body.scopes,
        clear_scopes="scopes" in body.model_fields_set and body.scopes is None,
    )


@router.delete("/{oauth_client_id}", status_code=204)
def delete_oauth_client(
    oauth_client_id: ClientId, actor: ActorDep, service: ServiceDep
) -> Response:
    service.oauth_clients.delete(actor, oauth_client_id)
    return Response(status_code=204)

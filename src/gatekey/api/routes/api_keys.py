"""``/api/v1/api-keys`` and ``/api/v1/me``: the project's API keys and the caller."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response

from gatekey.api.deps import ActorDep, ServiceDep
from gatekey.api.schemas import ApiKeyCreate, Me
from gatekey.models import ApiKey, CreatedApiKey

router = APIRouter(prefix="/api/v1", tags=["api keys"])


@router.get("/me", response_model=Me)
def me(actor: ActorDep) -> Me:
    """Who the key belongs to; the cheapest authenticated call."""
    return Me(project_id=actor.project_id, key_id=actor.key_id, role=actor.role)


@router.get("/api-keys", response_model=list[ApiKey])
def list_api_keys(actor: ActorDep, service: ServiceDep) -> list[ApiKey]:
    return service.access.list_keys(actor)


@router.post("/api-keys", response_model=CreatedApiKey, status_code=201)
def create_api_key(
    body: ApiKeyCreate, actor: ActorDep, service: ServiceDep, response: Response
) -> CreatedApiKey:
    """Create a key; its ``token`` is shown in this response only."""
    response.headers["Cache-Control"] = "no-store"
    expires = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    return service.access.create_key(
        actor, name=body.name, role=body.role.value, expires_in=expires
    )


@router.delete("/api-keys/{key_id}", status_code=204)
def revoke_api_key(key_id: str, actor: ActorDep, service: ServiceDep) -> Response:
    service.access.revoke_key(actor, key_id)
    return Response(status_code=204)

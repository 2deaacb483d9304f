"""``/api/v1/oauth/sessions``: start connecting an OAuth2 app, and follow the outcome."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from gatekey.api.deps import ActorDep, ServiceDep
from gatekey.api.schemas import AuthorizationStart
from gatekey.models import AuthorizationSession

router = APIRouter(prefix="/api/v1/oauth/sessions", tags=["oauth"])
SessionId = Annotated[str, Path(max_length=64, examples=["oas_01JD3W6ZK2Q8V5N0C7H9X4T1RB"])]


@router.post("", response_model=AuthorizationSession, status_code=201)
def start_authorization(
    body: AuthorizationStart, actor: ActorDep, service: ServiceDep
) -> AuthorizationSession:
    """Return ``authorize_url``: open it in a popup; the callback page reports back and closes."""
    return service.authorizations.start(
        actor,
        app=body.app,
        name=body.name,
        connection_id=body.connection_id,
        scopes=body.scopes,
        config=body.config,
        metadata=body.metadata,
        is_default=body.is_default,
        allow_account_switch=body.allow_account_switch,
    )


@router.get("/{session_id}", response_model=AuthorizationSession)
def authorization_status(
    session_id: SessionId, actor: ActorDep, service: ServiceDep
) -> AuthorizationSession:
    return service.authorizations.status(actor, session_id)

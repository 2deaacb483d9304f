"""Dependencies shared by the routes: the service and the calling actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gatekey.service import Actor, ConnectionService

_bearer = HTTPBearer(auto_error=False, description="a Gatekey API key: gk_...")


def get_service(request: Request) -> ConnectionService:
    service: ConnectionService = request.app.state.service
    return service


ServiceDep = Annotated[ConnectionService, Depends(get_service)]


def client_address(request: Request) -> str | None:
    """The peer's address (behind a proxy, run uvicorn with ``--proxy-headers``)."""
    return request.client.host if request.client else None


def get_actor(
    request: Request,
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    return service.authenticate(
        credentials.credentials if credentials else None, client=client_address(request)
    )


ActorDep = Annotated[Actor, Depends(get_actor)]

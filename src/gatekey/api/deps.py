"""Dependencies shared by the routes: the service, the settings and the calling actor.

The ASGI root (``gatekey.server``) keeps the runtime's parts on ``app.state``; only these
functions read it, so a route names what it needs in its signature.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gatekey.service import Actor, ConnectionService
from gatekey.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="a Gatekey API key: gk_...")


def get_service(request: Request) -> ConnectionService:
    service: ConnectionService = request.app.state.service
    return service


ServiceDep = Annotated[ConnectionService, Depends(get_service)]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


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

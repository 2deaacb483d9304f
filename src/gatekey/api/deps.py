"""Dependencies shared by the API routes: the calling actor, and the service and settings
(from ``asgi``, which the pages read too)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gatekey.asgi import ServiceDep, SettingsDep, client_address, get_settings
from gatekey.service import Actor

_bearer = HTTPBearer(auto_error=False, description="a Gatekey API key: gk_...")


def get_actor(
    request: Request,
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    return service.authenticate(
        credentials.credentials if credentials else None, client=client_address(request)
    )


ActorDep = Annotated[Actor, Depends(get_actor)]

__all__ = ["ActorDep", "ServiceDep", "SettingsDep", "client_address", "get_actor", "get_settings"]

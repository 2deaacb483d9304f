"""What every HTTP adapter reads from a request: the service and settings the ASGI root put
in the app's state, and the peer's address.

The API (``api``) and the pages (``web``) both depend on these; they live here, below both,
so that neither adapter imports the other. Both dependencies are ``async def``: they only read
the app's state, and FastAPI would otherwise run each on the thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gatekey.service import Service
from gatekey.settings import Settings


async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ServiceDep = Annotated[Service, Depends(get_service)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def client_address(request: Request) -> str | None:
    """The peer's address (behind a proxy, run uvicorn with ``--proxy-headers``)."""
    return request.client.host if request.client else None

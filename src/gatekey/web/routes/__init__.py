"""The pages' routes, one module per page group; each holds a ``router``, and ``router`` here
is all of them, as the ASGI root (``gatekey.server``) includes them."""

from __future__ import annotations

from fastapi import APIRouter

from gatekey.web.routes import apps, callback, connections, flows, runs, settings, signin

router = APIRouter(include_in_schema=False)
for group in (callback, signin, connections, settings, flows, runs, apps):
    router.include_router(group.router)

__all__ = ["router"]

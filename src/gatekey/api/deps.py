"""Dependencies shared by the API routes: the calling actor, and the service and settings
(from ``asgi``, which the pages read too).

The actor is found on the event loop (``async def``): a request whose API key this process
read lately is authenticated from memory (``service.key_cache``), without a hop to the thread
pool; the others are authenticated on the pool, as the blocking calls they are.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from gatekey.asgi import ServiceDep, SettingsDep, client_address, get_settings
from gatekey.service import Actor, Service

_bearer = HTTPBearer(auto_error=False, description="a Gatekey API key: gk_...")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _actor(request: Request, service: Service, bearer: BearerDep, *, peek: bool) -> Actor:
    token = bearer.credentials if bearer else None
    client = client_address(request)
    actor = service.system.cached_actor(token, client=client, peek=peek)
    if actor is None:
        actor = await run_in_threadpool(
            service.system.authenticate, token, client=client, peek=peek
        )
    return actor


async def get_actor(request: Request, service: ServiceDep, bearer: BearerDep) -> Actor:
    return await _actor(request, service, bearer, peek=True)


async def get_spending_actor(request: Request, service: ServiceDep, bearer: BearerDep) -> Actor:
    """The actor of a route whose service call spends the actor's budget first (a credential
    read): the look at the address's failed attempts is left to that call, so the request
    costs one limiter call. Any other route takes ``ActorDep``."""
    return await _actor(request, service, bearer, peek=False)


ActorDep = Annotated[Actor, Depends(get_actor)]
SpendingActorDep = Annotated[Actor, Depends(get_spending_actor)]

__all__ = [
    "ActorDep",
    "ServiceDep",
    "SettingsDep",
    "SpendingActorDep",
    "client_address",
    "get_actor",
    "get_settings",
]

"""``/api/v1/proxy/{connection_id}/{path}``: call an app through a connection, holding no token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from gatekey.api.deps import ActorDep, ServiceDep

router = APIRouter(prefix="/api/v1/proxy", tags=["proxy"])
ConnectionId = Annotated[str, Path(max_length=64)]


async def proxy(
    connection_id: ConnectionId, path: str, request: Request, actor: ActorDep, service: ServiceDep
) -> Response:
    """Forward to the connection's app base URL with its auth applied; refresh and retry once
    when the app says the token expired. Targets outside the base URL are refused."""
    body = await request.body()
    answer = await run_in_threadpool(
        service.proxy,
        actor,
        connection_id,
        request.method,
        path,
        query=dict(request.query_params),
        headers=dict(request.headers),
        body=body,
    )
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


for _method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
    router.add_api_route(
        "/{connection_id}/{path:path}",
        proxy,
        methods=[_method],
        operation_id=f"proxy_{_method.lower()}",
        summary=f"Proxy a {_method} request",
    )

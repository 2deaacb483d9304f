"""``/api/v1/proxy/{connection_id}/{path}``: call an app through a connection, holding no token.

The body is the app's, relayed as bytes; it is read chunk by chunk and refused (413
``payload_too_large``) as soon as it passes the proxy's limit, so a chunked body, which
declares no length to check first, is never read whole before its size is known.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from gatekey.api.deps import ActorDep, ServiceDep
from gatekey.errors import PayloadTooLarge
from gatekey.service.proxy import MAX_BODY

router = APIRouter(prefix="/api/v1/proxy", tags=["proxy"])
ConnectionId = Annotated[str, Path(max_length=64)]


async def proxy(
    connection_id: ConnectionId, path: str, request: Request, actor: ActorDep, service: ServiceDep
) -> Response:
    """Forward to the connection's app base URL with its auth applied; refresh and retry once
    when the app says the token expired. Targets outside the base URL are refused."""
    body = await _body_within(request, MAX_BODY)
    answer = await run_in_threadpool(
        service.proxy.send,
        actor,
        connection_id,
        request.method,
        path,
        query=dict(request.query_params),
        headers=dict(request.headers),
        body=body,
    )
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


async def _body_within(request: Request, limit: int) -> bytes:
    """The whole body, read until it passes ``limit``; then ``PayloadTooLarge``, unread."""
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit // 2**20} MiB")
        parts.append(chunk)
    return b"".join(parts)


for _method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
    router.add_api_route(
        "/{connection_id}/{path:path}",
        proxy,
        methods=[_method],
        operation_id=f"proxy_{_method.lower()}",
        summary=f"Proxy a {_method} request",
    )

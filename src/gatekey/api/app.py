"""The API's router factory: every resource route and the operational probes, as one router.

The ASGI root (``gatekey.server``) mounts it beside the pages and the sandbox, and installs
what every exchange goes through (the problem documents, the body guard, security headers).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from gatekey.api.deps import ServiceDep
from gatekey.api.routes import (
    api_keys,
    apps,
    audit,
    connections,
    flows,
    oauth,
    oauth_clients,
    proxy,
    runs,
    webhooks,
)
from gatekey.api.schemas import Problem
from gatekey.metrics import CONTENT_TYPE as METRICS_TYPE

_PROBLEM: dict[str, Any] = {
    "model": Problem,
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {**_PROBLEM, "description": "The request was refused: see `code`."},
    "5XX": {**_PROBLEM, "description": "Gatekey or a provider failed: see `code`."},
}
"""The error answers every operation documents (OpenAPI), whatever its route."""


def api_router() -> APIRouter:
    """Build the router of the probes (``/healthz``, ``/readyz``, ``/metrics``) and the API."""
    router = APIRouter()

    @router.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @router.get("/readyz", include_in_schema=False)
    def readyz(service: ServiceDep) -> JSONResponse:
        """Readiness: database, master keys and audit writer work (Redis is reported)."""
        state = service.system.readiness()
        return JSONResponse(state.model_dump(), status_code=200 if state.ready else 503)

    @router.get("/metrics", include_in_schema=False)
    def metrics(service: ServiceDep) -> Response:
        """Prometheus text format; labels are app keys, operations and outcome codes."""
        return Response(service.context.metrics.render(), media_type=METRICS_TYPE)

    for resource in (
        apps,
        connections,
        api_keys,
        audit,
        webhooks,
        oauth_clients,
        oauth,
        flows,
        proxy,
        runs,
    ):
        router.include_router(resource.router)
    router.include_router(runs.hooks)
    return router

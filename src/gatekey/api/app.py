"""The FastAPI application: routes, problem documents, and headers every response carries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from importlib.metadata import version

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from gatekey.api import problems
from gatekey.api.guard import Guard
from gatekey.api.inputs import InputGuard
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
from gatekey.oauth.sandbox import sandbox_router
from gatekey.runtime import Runtime, background_refresher, run_worker, webhook_dispatcher
from gatekey.web import callback, pages, workflow_pages
from gatekey.web.auth import SignInRequired, to_sign_in


def create_app(
    runtime: Runtime, *, close_runtime: bool = False, refresh_in_background: bool = False
) -> FastAPI:
    """Build the API around an open runtime; with ``close_runtime`` shutdown closes it.

    With ``refresh_in_background`` a refresher thread renews expiring tokens and a pool of
    run workers executes queued runs while it serves.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        refresher = worker = dispatcher = None
        if refresh_in_background:
            refresher = background_refresher(runtime)
            refresher.start()
            worker = run_worker(runtime)
            worker.start()
            dispatcher = webhook_dispatcher(runtime)
            dispatcher.start()
        yield
        if dispatcher is not None:
            dispatcher.stop()
        if worker is not None:
            worker.stop()
        if refresher is not None:
            refresher.stop()
        if close_runtime:
            runtime.close()
        else:
            runtime.service.audit.flush()

    problem = {
        "model": Problem,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    app = FastAPI(
        title="Gatekey",
        version=version("gatekey"),
        description="Encrypted, project-scoped connections for workflow automation.",
        lifespan=lifespan,
        responses={
            "4XX": {**problem, "description": "The request was refused: see `code`."},
            "5XX": {**problem, "description": "Gatekey or a provider failed: see `code`."},
        },
    )
    app.state.service = runtime.service
    app.state.runtime = runtime
    problems.install(app)

    app.add_middleware(InputGuard)  # inside Guard: the declared size is checked first
    app.add_middleware(Guard)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        """Readiness: database, master keys and audit writer work (Redis is reported)."""
        state = runtime.service.readiness()
        return JSONResponse(state.model_dump(), status_code=200 if state.ready else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus text format; labels are app keys, operations and outcome codes."""
        return Response(runtime.service.metrics.render(), media_type=METRICS_TYPE)

    app.include_router(apps.router)
    app.include_router(connections.router)
    app.include_router(api_keys.router)
    app.include_router(audit.router)
    app.include_router(webhooks.router)
    app.include_router(oauth_clients.router)
    app.include_router(oauth.router)
    app.include_router(flows.router)
    app.include_router(proxy.router)
    app.include_router(runs.router)
    app.include_router(runs.hooks)
    app.include_router(callback.router)
    app.include_router(pages.router)
    app.include_router(workflow_pages.router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return to_sign_in(request)

    if runtime.sandbox is not None:
        app.include_router(sandbox_router(runtime.sandbox))
    app.mount(
        "/static",
        StaticFiles(directory=str(resources.files("gatekey.web") / "static")),
        name="static",
    )
    return app

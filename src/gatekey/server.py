"""The ASGI root: the API, the web pages and the OAuth sandbox as one app, whose lifespan
starts and stops the background ``Workers``.

Each adapter keeps its own routes (``api.app.api_router``, the ``web`` routers, the sandbox's
router); this module only composes them around an open runtime and installs what every HTTP
exchange goes through: the problem documents for errors, the body guard and the security
headers. Routes reach the runtime's parts through dependencies (``api.deps``), which read them
from ``app.state``; no route reads ``app.state`` itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from importlib.metadata import version

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from gatekey.api import docs, problems
from gatekey.api.app import PROBLEM_RESPONSES, api_router
from gatekey.api.guard import Guard
from gatekey.api.inputs import InputGuard
from gatekey.oauth.sandbox import sandbox_router
from gatekey.runtime import Runtime, background_workers
from gatekey.web import render, routes
from gatekey.web.errors import SignInRequired, to_sign_in


def create_app(
    runtime: Runtime, *, close_runtime: bool = False, run_workers: bool = False
) -> FastAPI:
    """Build the app around an open runtime; with ``close_runtime`` shutdown closes it.

    With ``run_workers`` the lifespan runs the background ``Workers`` while it serves (run
    workers, webhook dispatcher, token refresher), as ``gatekey serve`` does.
    """
    workers = background_workers(runtime) if run_workers else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if workers is not None:
            workers.start()
        try:
            yield
        finally:
            if workers is not None:
                workers.stop()
            if close_runtime:
                runtime.close()
            else:
                runtime.service.context.audit.flush()

    app = FastAPI(
        title="Gatekey",
        version=version("gatekey"),
        description="Encrypted, project-scoped connections for workflow automation.",
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
        docs_url=None,  # FastAPI's pages load from a CDN: api.docs serves them from here
        redoc_url=None,
    )
    app.state.service = runtime.service
    app.state.settings = runtime.settings
    app.state.runtime = runtime
    problems.install(app, outage_page=lambda: render.page("unavailable.html", 503))
    app.add_middleware(InputGuard)  # inside Guard: the declared size is checked first
    app.add_middleware(Guard)

    app.include_router(api_router())
    docs.install(app)
    _include_pages(app)
    if runtime.sandbox is not None:
        app.include_router(sandbox_router(runtime.sandbox))
    app.mount(
        "/static",
        StaticFiles(directory=str(resources.files("gatekey.web") / "static")),
        name="static",
    )
    return app


def _include_pages(app: FastAPI) -> None:
    """The web pages: the OAuth callback, the console, and a sign-in redirect for them."""
    app.include_router(routes.router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return to_sign_in(request)

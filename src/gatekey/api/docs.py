"""The API's reference pages, ``/docs`` (Swagger UI) and ``/redoc``, served whole by Gatekey.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so offline they are blank. Here the
scripts and styles come from the ``fastapi-offline`` package (which ships Swagger UI's and
ReDoc's bundles), under ``/docs/assets/``, and each page's Content-Security-Policy allows
nothing from anywhere but Gatekey's origin. What the renderers need beyond files from there:
the inline script that starts Swagger UI (allowed by its hash), the styles both set on their
elements (``'unsafe-inline'`` styles: React and styled-components cannot take a nonce),
Swagger UI's icons as ``data:`` images, and ReDoc's search worker from a ``blob:``. ReDoc's
"API docs by Redocly" logo is a CDN image: the policy refuses it and ReDoc hides it.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

DOCS = "/docs"
REDOC = "/redoc"
ASSETS = "/docs/assets"
ASSETS_PACKAGE = ("fastapi_offline", "static")
"""Where the bundles live: ``swagger-ui-bundle.js``, ``swagger-ui.css``,
``redoc.standalone.js``, ``favicon.png``."""

_CSP = (
    "default-src 'none'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def install(app: FastAPI) -> None:
    """Serve the reference pages and their assets (the app is built with ``docs_url=None``
    and ``redoc_url=None``, so FastAPI's CDN pages are not there)."""
    app.mount(ASSETS, _Assets(packages=[ASSETS_PACKAGE]), name="docs-assets")
    app.include_router(_router(app))


class _Assets(StaticFiles):
    """The bundles (2.7 MB), kept by the browser and revalidated by their ``ETag`` (a 304)
    rather than fetched again on every visit (the API's default is ``no-store``)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def _router(app: FastAPI) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    openapi_url = app.openapi_url or "/openapi.json"

    @router.get(DOCS)
    def swagger_ui() -> HTMLResponse:
        """Swagger UI on the OpenAPI document: every operation, tried from the page."""
        return _self_only(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} API",
                swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS}/favicon.png",
                oauth2_redirect_url=None,  # API keys are bearer tokens: no OAuth2 scheme
                swagger_ui_parameters=app.swagger_ui_parameters,
            )
        )

    @router.get(REDOC)
    def redoc() -> HTMLResponse:
        """ReDoc on the OpenAPI document: the reference as one page to read."""
        return _self_only(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} API",
                redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS}/favicon.png",
                with_google_fonts=False,
            )
        )

    return router


def content_security_policy(page: str) -> str:
    """The policy of a docs page: Gatekey's origin, plus the page's own inline scripts by
    their SHA-256 (CSP level 2 hashes)."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return _CSP.format(scripts=hashes)


def _self_only(response: HTMLResponse) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = content_security_policy(
        bytes(response.body).decode()
    )
    response.headers["X-Frame-Options"] = "DENY"
    return response

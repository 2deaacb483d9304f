"""Map the exception tree to HTTP: ``application/problem+json`` (RFC 9457) with a stable code.

An unreachable database is ``503 database_unavailable`` with ``Retry-After``, whether the
store reported it or a driver error escaped; a person's browser gets a plain page instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from gatekey import errors
from gatekey.store import database

PROBLEM = "application/problem+json"

_STATUS: list[tuple[type[errors.GatekeyError], int]] = [
    (errors.PayloadTooLarge, 413),
    (errors.InvalidId, 400),
    (errors.InvalidInput, 422),
    (errors.NotFound, 404),
    (errors.ConnectionInactive, 409),
    (errors.MissingScopes, 409),
    (errors.Conflict, 409),
    (errors.AuthenticationFailed, 401),
    (errors.PermissionDenied, 403),
    (errors.CredentialsRejected, 422),
    (errors.DestinationBlocked, 422),
    (errors.RateLimited, 429),
    (errors.ProviderUnavailable, 502),
    (errors.OAuthClientRejected, 502),
    (errors.GrantRevoked, 409),
    (errors.TokenRequestRefused, 502),
    (errors.DatabaseUnavailable, 503),
    (errors.AuthorizationFailed, 400),
    (errors.MethodNotAllowed, 405),
    (errors.HttpError, 400),
    (errors.CryptoError, 500),
]

_HTTP_CODES = {
    404: errors.NotFound.code,
    405: errors.MethodNotAllowed.code,
    413: errors.PayloadTooLarge.code,
}


def status_of(exc: errors.GatekeyError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"urn:gatekey:problem:{code}",
        "title": code.replace("_", " "),
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="gatekey"'
    retry_after = extra.get("retry_after")
    if status in (429, 502, 503) and isinstance(retry_after, int | float):
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


_NEXT_REQUEST = {
    "replace_app": "PUT /api/v1/apps/{key}",
    "start_authorization": "POST /api/v1/oauth/sessions",
    "skip_test": 'the same request with "skip_test": true',
    "force_delete": "the same DELETE with ?force=true",
}
"""A hint's next step as the request that takes it; the steps with no route here (a sign-in
link, a master-key rotation) are the operator's, on the command line."""
_NEXT_COMMAND = {
    "signin_link": "gatekey signin-link",
    "rotate_master_key": "gatekey keys rotate",
}


def next_step(hint: errors.Hint) -> dict[str, Any]:
    """The ``next`` member of a problem document: the action, and the request (or the
    operator's command) that takes it."""
    step: dict[str, Any] = {"action": hint.action, "params": dict(hint.params)}
    if hint.action in _NEXT_REQUEST:
        step["request"] = _NEXT_REQUEST[hint.action].format(**hint.params)
    else:
        step["command"] = _NEXT_COMMAND[hint.action].format(**hint.params)
    return step


def detail_of(exc: errors.GatekeyError) -> str:
    """The message, and the request or command that takes its hint's next step."""
    if exc.hint is None:
        return exc.message
    step = next_step(exc.hint)
    return f"{exc.message} ({step.get('request') or step['command']})"


def _safe_details(exc: errors.GatekeyError) -> dict[str, Any]:
    allowed = {
        "errors",
        "id",
        "app",
        "field",
        "reason",
        "key_id",
        "provider_status",
        "data_keys",
        "retry_after",
        "flows",
        "missing",
        "connections",
        "host",
    }
    safe = {k: v for k, v in exc.details.items() if k in allowed}
    if exc.hint is not None:
        safe["next"] = next_step(exc.hint)
    return safe


OutagePage = Callable[[], Response]
"""Renders the plain page a person's browser gets during an outage (the pages' own template,
handed in by the ASGI root, so the API never imports the pages)."""


def unavailable(
    request: Request, exc: errors.DatabaseUnavailable, outage_page: OutagePage | None
) -> Response:
    """503 with ``Retry-After``: a problem document, or a plain page for a person's browser."""
    wants_page = not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )
    if not wants_page or outage_page is None:
        return problem(503, exc.code, detail_of(exc), **_safe_details(exc))
    response = outage_page()
    response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after or 1)))
    return response


def install(app: FastAPI, *, outage_page: OutagePage | None = None) -> None:
    """Register the handlers that turn errors into problem documents."""

    @app.exception_handler(errors.DatabaseUnavailable)
    async def _database(request: Request, exc: errors.DatabaseUnavailable) -> Response:
        return unavailable(request, exc, outage_page)

    async def _driver(request: Request, exc: Exception) -> Response:
        """A driver error that escaped the store: an outage is a 503, anything else a 500."""
        if not database.unavailable(exc):
            raise exc
        return unavailable(request, database.outage(), outage_page)

    app.add_exception_handler(sa_exc.DBAPIError, _driver)
    app.add_exception_handler(sa_exc.TimeoutError, _driver)

    @app.exception_handler(errors.GatekeyError)
    async def _gatekey(_: Request, exc: errors.GatekeyError) -> JSONResponse:
        return problem(status_of(exc), exc.code, detail_of(exc), **_safe_details(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in err["loc"] if p != "body") or "body",
                "message": str(err["msg"]),
            }
            for err in exc.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        return problem(422, "invalid_input", f"invalid request: {summary}", errors=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, errors.HttpError.code)
        return problem(exc.status_code, code, str(exc.detail))

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
from gatekey.problem_documents import ERRORS
from gatekey.store import database

PROBLEM = "application/problem+json"

_STATUS: list[tuple[type[errors.GatekeyError], int]] = [
    (errors.PayloadTooLarge, 413),
    (errors.UnsupportedMediaType, 415),
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
"""The status of each branch of the tree, most specific first; anything else is a 500."""

_HTTP_CODES = {
    404: errors.NotFound.code,
    405: errors.MethodNotAllowed.code,
    413: errors.PayloadTooLarge.code,
    415: errors.UnsupportedMediaType.code,
}


def status_for(kind: type[errors.GatekeyError]) -> int:
    """The HTTP status of an error class."""
    for branch, status in _STATUS:
        if issubclass(kind, branch):
            return status
    return 500


def status_of(exc: errors.GatekeyError) -> int:
    return status_for(type(exc))


def statuses() -> dict[str, int]:
    """Every code the API can answer, and its status (the README's error table)."""
    return {code: status_for(kind) for code, kind in sorted(ERRORS.items())}


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


NEXT_STEP: dict[str, dict[str, str]] = {
    "replace_app": {"request": "PUT /api/v1/apps/{key}"},
    "start_authorization": {"request": "POST /api/v1/oauth/sessions"},
    "reconnect": {"request": "POST /api/v1/oauth/sessions with its connection_id"},
    "skip_test": {"request": 'the same request with "skip_test": true'},
    "force_delete": {"request": "the same DELETE with ?force=true"},
    "signin_link": {"command": "gatekey signin-link"},
    "rotate_master_key": {"command": "gatekey keys rotate"},
}
"""Each hint's next step as the API says it, one line per action: the ``request`` that takes
it, or (for what only the operator can do: a sign-in link, a master-key rotation) the
``command``; a ``{name}`` in the text is the hint's param of that name (other braces, as in
JSON, stay as they are)."""


def next_step(hint: errors.Hint) -> dict[str, Any]:
    """The ``next`` member of a problem document: the action, its params, and how to take it
    (an action with no line in ``NEXT_STEP`` yet still names itself)."""
    step: dict[str, Any] = {"action": hint.action, "params": dict(hint.params)}
    for member, text in NEXT_STEP.get(hint.action, {}).items():
        for name, value in hint.params.items():
            text = text.replace("{" + name + "}", value)
        step[member] = text
    return step


def detail_of(exc: errors.GatekeyError) -> str:
    """The message, and how to take its hint's next step."""
    if exc.hint is None:
        return exc.message
    step = next_step(exc.hint)
    how = [str(v) for k, v in step.items() if k not in ("action", "params")]
    return f"{exc.message} ({'; '.join(how)})" if how else exc.message


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
        "cause",
        "use_instead",
    }
    safe = {k: v for k, v in exc.details.items() if k in allowed}
    if exc.hint is not None:
        safe["next"] = next_step(exc.hint)
    return safe


SEND_JSON = "send a JSON body (Content-Type: application/json)"
_BODY_MESSAGES = {
    "missing": SEND_JSON,
    "json_invalid": f"the body is not valid JSON: {SEND_JSON}",
    "model_attributes_type": "the body must be a JSON object",
    "dict_type": "the body must be a JSON object",
}
"""What a validation error about the body as a whole says, by pydantic's error type."""
_WHERE = {"body": "", "query": "query.", "path": "path.", "header": "header.", "cookie": "cookie."}


def _field_error(error: Any) -> dict[str, str]:
    """A validation error as ``{"field", "message"}``: the field's path inside the body
    (``fields.api_key``, ``steps.0.id``), ``query.<name>``, ``path.<name>``,
    ``header.<name>``, or ``body`` for the body as a whole."""
    where, *inside = error["loc"] or ("body",)
    if where == "body" and (not inside or error["type"] == "json_invalid"):
        message = _BODY_MESSAGES.get(error["type"], str(error["msg"]))
        return {"field": "body", "message": message}
    path = ".".join(str(part) for part in inside)
    return {"field": f"{_WHERE.get(str(where), '')}{path}", "message": str(error["msg"])}


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
        found = [_field_error(error) for error in exc.errors()]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in found[:5])
        return problem(422, errors.InvalidInput.code, f"invalid request: {summary}", errors=found)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        """Anything unforeseen: a problem document too (the server log has the traceback)."""
        return problem(500, errors.GatekeyError.code, "something went wrong on Gatekey's side")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, errors.HttpError.code)
        return problem(exc.status_code, code, str(exc.detail))

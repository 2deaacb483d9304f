"""Refuse, before routing, request text that no database can keep the same way.

Every path, query string, JSON body and form body is checked by ``gatekey.domain.inputs``: a
NUL character anywhere (keys included) or a number that is not finite (``NaN``,
``Infinity``, ``-Infinity``, ``1e999``) answers 422 ``invalid_input`` naming the field, and the
request goes no further. Field names follow the validation errors of the routes: body fields
by their path inside the body (``metadata.note``), ``query.<name>``, ``path``.

A body meant to be JSON (sent as JSON, or with no ``Content-Type``) that does not parse is
refused the same way, with the line and column where it stops being JSON and the words
"send a JSON body (Content-Type: application/json)".

The proxy's body is not Gatekey's input but the app's, relayed as bytes, so it is not read
here. Pure ASGI, like ``Guard``; a body is buffered (at most ``MAX_BODY``) and replayed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatekey.api import problems
from gatekey.api.guard import MAX_BODY
from gatekey.domain.inputs import NUL, NUL_MESSAGE, Flaw, find_flaw
from gatekey.errors import InvalidInput

OPAQUE_BODIES = ("/api/v1/proxy/",)
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


def _pairs_flaw(encoded: bytes, where: str) -> Flaw | None:
    """A NUL in a query string or urlencoded form (``%00``, or a raw NUL byte)."""
    if b"%00" not in encoded and b"\x00" not in encoded:
        return None
    for name, value in parse_qsl(encoded.decode("latin-1"), keep_blank_values=True):
        if NUL in name:
            return Flaw(where, NUL_MESSAGE)
        if NUL in value:
            return Flaw(f"query.{name}" if where == "query" else name, NUL_MESSAGE)
    return None


def _kind(headers: Headers) -> str | None:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type or content_type == "application/json" or content_type.endswith("+json"):
        return "json"
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return content_type
    return None


def _json_flaw(body: bytes) -> Flaw | Syntax | None:
    if not body.strip():
        return None  # no body: the route says whether it needs one
    try:
        document = json.loads(body)
    except json.JSONDecodeError as error:
        return Syntax(error.msg, error.lineno, error.colno)
    except UnicodeDecodeError:
        return Syntax("the text is not UTF-8", None, None)
    except (ValueError, RecursionError):
        return None  # nested past the parser's depth: the route's own validation answers
    return find_flaw(document, "body" if not isinstance(document, dict) else "")


@dataclass(frozen=True)
class Syntax:
    """Where a body that is meant to be JSON stops being JSON (``line`` and ``column``
    count from 1), in the parser's words."""

    reason: str
    line: int | None
    column: int | None

    def problem(self) -> Response:
        where = f"line {self.line}, column {self.column}: " if self.line is not None else ""
        error: dict[str, Any] = {"field": "body", "message": f"{where}{self.reason}"}
        if self.line is not None:
            error |= {"line": self.line, "column": self.column}
        detail = f"the body is not valid JSON ({where}{self.reason}): {problems.SEND_JSON}"
        return problems.problem(422, InvalidInput.code, detail, field="body", errors=[error])


async def _form_flaw(kind: str, body: bytes, scope: Scope) -> Flaw | None:
    if kind == "application/x-www-form-urlencoded":
        return _pairs_flaw(body, "form")
    if b"\x00" not in body:  # multipart sends text as it is: a NUL is a NUL byte
        return None
    async with Request(scope, _replay(body, _closed)).form() as form:
        for name, value in form.multi_items():
            if NUL in name:
                return Flaw("form", NUL_MESSAGE)
            if not isinstance(value, UploadFile) and NUL in value:
                return Flaw(name, NUL_MESSAGE)
    return None


async def _closed() -> Message:
    return {"type": "http.disconnect"}


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _read(receive: Receive) -> bytes | None:
    """The whole body, or None once it passes ``MAX_BODY``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class InputGuard:
    """Answer 422 ``invalid_input`` to a request whose text holds a NUL or a non-finite number."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        flaw: Flaw | Syntax | None = (
            Flaw("path", NUL_MESSAGE)
            if NUL in path
            else _pairs_flaw(scope["query_string"], "query")
        )
        if flaw is None and scope["method"] not in _NO_BODY and not path.startswith(OPAQUE_BODIES):
            kind = _kind(Headers(scope=scope))
            if kind is not None:
                body = await _read(receive)
                if body is None:
                    await _refuse_size(scope, receive, send)
                    return
                flaw = _json_flaw(body) if kind == "json" else await _form_flaw(kind, body, scope)
                receive = _replay(body, receive)
        if flaw is not None:
            await _refuse(flaw, scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _refuse(flaw: Flaw | Syntax, scope: Scope, receive: Receive, send: Send) -> None:
    if isinstance(flaw, Syntax):
        await flaw.problem()(scope, receive, send)
        return
    error = flaw.error()
    details: dict[str, Any] = {k: error.details[k] for k in ("field", "errors")}
    await problems.problem(422, error.code, error.message, **details)(scope, receive, send)


async def _refuse_size(scope: Scope, receive: Receive, send: Send) -> None:
    refusal = problems.problem(413, "payload_too_large", "request body is larger than 1 MiB")
    await refusal(scope, receive, send)

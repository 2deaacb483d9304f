"""What every HTTP exchange goes through: the body checks and the security headers.

Before the app sees a request: a body sent to the API (``/api/``) as anything but JSON, or
with no ``Content-Type``, is refused with 415 ``unsupported_media_type`` saying to send
``application/json`` (``curl -d`` sends a form); a ``multipart/form-data`` (or other
``multipart/*``) body to a page is refused the same way, since no Gatekey route takes files
(the proxy passes bodies through unparsed, so it may carry any of them); a body over
``MAX_BODY`` is refused with 413 ``payload_too_large``, whether it declares a
``Content-Length`` or comes without one (chunked: such a body is read here, up to the limit,
before any route parses it). So no form is ever parsed, or spooled to a temporary file, past
these checks.

Pure ASGI: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware("http")``) runs each request
body read through a task group of its own, which cost a ``POST /credentials`` 11% of its CPU
under load (a GET has no body to read).
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatekey.api import problems
from gatekey.errors import PayloadTooLarge, UnsupportedMediaType

MAX_BODY = 1024 * 1024
PASS_THROUGH = ("/api/v1/proxy/",)
"""Path prefixes whose bodies Gatekey forwards without parsing: multipart may go there."""
JSON_ONLY = "/api/"
"""The path prefix whose bodies are JSON (``PASS_THROUGH`` aside)."""


class Guard:
    """Refuse bodies the route cannot read (415: multipart, or not JSON to the API) and bodies
    over ``MAX_BODY`` (413); give every response ``X-Content-Type-Options: nosniff`` and,
    unless the route chose its own, ``Cache-Control: no-store`` and ``Referrer-Policy:
    no-referrer``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(send)
        headers = Headers(scope=scope)
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        path: str = scope["path"]
        passed_through = path.startswith(PASS_THROUGH)
        if media_type.startswith("multipart/") and not passed_through:
            await _unsupported(media_type, path, scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit() or int(length) > MAX_BODY:
                await _too_large(scope, receive, send)
                return
            has_body = int(length) > 0
        else:  # chunked, or an HTTP/2 stream: the length is known once it has been read
            read = await _read_within(receive, MAX_BODY)
            if read is None:
                await _too_large(scope, receive, send)
                return
            has_body = any(message.get("body") for message in read)
            receive = _replay(read, receive)
        if has_body and not is_json(media_type) and _json_only(path):
            await _unsupported(media_type, path, scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _with_headers(send: Send) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Cache-Control", "no-store")
                headers["X-Content-Type-Options"] = "nosniff"
                headers.setdefault("Referrer-Policy", "no-referrer")
            await send(message)

        return send_with_headers


async def _refuse(
    status: int, code: str, detail: str, scope: Scope, receive: Receive, send: Send
) -> None:
    await problems.problem(status, code, detail)(scope, receive, send)


def is_json(media_type: str) -> bool:
    """``application/json``, or a ``+json`` type such as ``application/merge-patch+json``."""
    return media_type == "application/json" or media_type.endswith("+json")


def _json_only(path: str) -> bool:
    return path.startswith(JSON_ONLY) and not path.startswith(PASS_THROUGH)


async def _unsupported(
    media_type: str, path: str, scope: Scope, receive: Receive, send: Send
) -> None:
    if _json_only(path):
        came = f"came as {media_type}" if media_type else "came with no Content-Type"
        detail = (
            f"send application/json: the API reads JSON bodies only, and this one {came} "
            "(set the header Content-Type: application/json)"
        )
    else:
        detail = (
            "this route takes no files: send a form (application/x-www-form-urlencoded) or JSON"
        )
    await _refuse(415, UnsupportedMediaType.code, detail, scope, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    await _refuse(
        413, PayloadTooLarge.code, "request body is larger than 1 MiB", scope, receive, send
    )


async def _read_within(receive: Receive, limit: int) -> list[Message] | None:
    """Read a whole body of unknown length; None once it passes ``limit`` bytes."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages  # the client went away: the app sees that as it would have
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that hands out the messages already read, then the live ones."""
    queued = list(messages)

    async def replay() -> Message:
        if queued:
            return queued.pop(0)
        return await receive()

    return replay

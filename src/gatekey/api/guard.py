"""What every HTTP exchange goes through: a body-size check and the security headers.

Pure ASGI: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware("http")``) runs each request
body read through a task group of its own, which cost a ``POST /credentials`` 11% of its CPU
under load (a GET has no body to read).
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gatekey.api import problems

MAX_BODY = 1024 * 1024


class Guard:
    """Refuse a declared body over ``MAX_BODY`` (413 ``payload_too_large``); give every response
    ``X-Content-Type-Options: nosniff`` and, unless the route chose its own,
    ``Cache-Control: no-store`` and ``Referrer-Policy: no-referrer``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            refusal = problems.problem(
                413, "payload_too_large", "request body is larger than 1 MiB"
            )
            await refusal(scope, receive, self._with_headers(send))
            return
        await self.app(scope, receive, self._with_headers(send))

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

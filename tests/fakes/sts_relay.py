"""An STS endpoint in front of a real one (moto) that can be made to have a bad day: it relays
each request unchanged (the Host header too, so the signature still verifies) until ``fail``
sets the status and AWS error code to answer instead, in STS's XML (``Throttling`` at 400,
``ServiceUnavailable`` at 503). ``delay`` (seconds) slows every answer down, so that a refresh
storm's callers arrive while one AssumeRole is in flight; ``assumed`` counts the AssumeRole
calls relayed."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2

_ERROR = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
    "<Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
    "<RequestId>relay</RequestId></ErrorResponse>"
)


class StsRelay:
    """A raw ASGI app (``tests.fakes.servers.serve``)."""

    def __init__(self, upstream: str, *, delay: float = 0.0) -> None:
        self.upstream = upstream
        self.failing: tuple[int, str] | None = None
        self.calls = 0
        self.assumed = 0
        self.delay = delay

    def fail(self, status: int, code: str) -> None:
        self.failing = (status, code)

    def recover(self) -> None:
        self.failing = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.failing is not None:
            status, code = self.failing
            content = _ERROR.format(code=code, message=f"{code} (the relay says so)").encode()
            headers = [(b"content-type", b"text/xml")]
        else:
            sent = [(k.decode(), v.decode()) for k, v in scope["headers"]]
            path = scope["path"] + (
                "?" + scope["query_string"].decode() if scope["query_string"] else ""
            )
            with httpx2.Client() as http:
                answer = http.request(
                    scope["method"], self.upstream + path, headers=sent, content=body
                )
            status, content = answer.status_code, answer.content
            self.assumed += b"Action=AssumeRole" in body and status == 200
            headers = [(b"content-type", answer.headers.get("content-type", "text/xml").encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

"""A loopback HTTP server that plays a webhook receiver (``POST /hook``) and a provider API
(``GET /me``), answering with the statuses, and after the delays, a test sets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from tests.fakes.apps import acme

if TYPE_CHECKING:
    from gatekey.service import Actor, Service


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    hook_statuses: list[int] = field(default_factory=list)
    me_status: int = 200
    delay: float = 0.0
    me_delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def hooks(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == "/hook"]


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: bytes = b"{}") -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            time.sleep(state.delay)
            with state.lock:
                state.received.append(Received(self.path, dict(self.headers), body))
                status = state.hook_statuses.pop(0) if state.hook_statuses else 200
            self._answer(status)

        def do_GET(self) -> None:
            time.sleep(state.me_delay)
            if self.path == "/me" and state.me_status == 200:
                self._answer(200, b'{"email": "owner@receiver.test"}')
            else:
                self._answer(state.me_status if self.path == "/me" else 404, b'{"message": "no"}')

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


class Clock:
    """A clock a test moves by hand (``clock.now += ...``)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def app_on(service: Service, actor: Actor, hub: Receiver) -> None:
    """An API-key app whose test request goes to the receiver's ``/me``."""
    service.apps.add(actor, acme(base_url=hub.url))


def events_of(hub: Receiver) -> list[dict[str, Any]]:
    """The webhook events the receiver got, in order."""
    return [json.loads(r.body) for r in hub.hooks]

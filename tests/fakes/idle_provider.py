"""A provider on loopback that counts how often each credential is used, the way a provider
that deactivates idle credentials sees Gatekey's keep-alive (stdlib ``http.server``).

``GET /me`` with ``Authorization: Bearer <token>`` answers 200 for tokens starting with
``ACCEPTED`` (counting each token's requests), 401 otherwise; ``delay`` seconds pass before
each answer, so sweeps of several processes overlap.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.apps import retiring
from tests.fakes.provider_server import answer_json

ACCEPTED = "CANARYidle"


@dataclass
class IdleProvider:
    url: str
    delay: float = 0.0
    uses: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> dict[str, Any]:
        """The help-desk app (``tests.fakes.apps.retiring``) on this server, sunset far off."""
        return retiring(sunset="2099-04-30", base_url=self.url)


@contextmanager
def idle_provider(delay: float = 0.0) -> Iterator[IdleProvider]:
    state: list[IdleProvider] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider = state[0]
            time.sleep(provider.delay)
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if self.path == "/me" and token.startswith(ACCEPTED):
                with provider.lock:
                    provider.uses[token] += 1
                answer_json(self, 200, {"email": "agent@desk.test"})
            else:
                answer_json(self, 401, {"message": "unauthorized"})

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(IdleProvider(f"http://127.0.0.1:{server.server_address[1]}", delay))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state[0]
    finally:
        server.shutdown()
        server.server_close()

"""The sandbox authorization server on a port of its own, for the OAuth2 benchmarks.

It runs in the benchmark's process on a uvicorn thread, as a provider would run elsewhere:
Gatekey reaches it over loopback HTTP. ``Provider.token_times`` records when each token
request arrived (``time.monotonic()``), for rates and windows measured at the provider's side.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2
import uvicorn

from gatekey.oauth.sandbox import SandboxState, create_sandbox_app

CALLBACK = "http://127.0.0.1:8040/oauth/callback"
CLIENT_ID, CLIENT_SECRET = "bench", "bench-secret"


@dataclass
class Provider:
    state: SandboxState
    url: str
    token_times: list[float] = field(default_factory=list)

    def consent(self, authorize_url: str) -> dict[str, str]:
        """Approve an authorization request; return the callback's query (code and state)."""
        query = dict(parse_qsl(urlsplit(authorize_url).query))
        with httpx2.Client(trust_env=False) as http:
            answer = http.post(f"{self.url}/authorize", data={**query, "decision": "approve"})
        return dict(parse_qsl(urlsplit(answer.headers["location"]).query))


def serve_provider() -> Provider:
    """Start the sandbox on a free loopback port with the bench client registered."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = SandboxState(issuer=f"http://127.0.0.1:{port}/sandbox")
    state.register_client(CLIENT_ID, CLIENT_SECRET, [CALLBACK])
    provider = Provider(state, f"http://127.0.0.1:{port}/sandbox")
    sandbox = create_sandbox_app(state)

    async def recorded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/token"):
            provider.token_times.append(time.monotonic())
        await sandbox(scope, receive, send)

    server = uvicorn.Server(
        uvicorn.Config(recorded, host="127.0.0.1", port=port, log_level="error")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return provider

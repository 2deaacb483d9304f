"""The sandbox authorization server on its own port, and a "browser" that clicks through it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2

from gatekey.catalog.schema import App
from gatekey.oauth.sandbox import SandboxState, create_sandbox_app, sandbox_app_definition
from gatekey.service import Actor, Service
from tests.fakes.servers import free_port, serve

CLIENT_ID = "gatekey-test"
CLIENT_SECRET = "sandbox-client-secret-CANARY-5f1e"
CALLBACK = "http://127.0.0.1:8040/oauth/callback"
_FORM = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)


@dataclass
class Sandbox:
    """A running sandbox: its state (to inspect), its URL and its catalog entry."""

    state: SandboxState
    url: str

    @property
    def app(self) -> App:
        return sandbox_app_definition(self.url)

    def control(self, path: str, **params: Any) -> Any:
        with httpx2.Client(trust_env=False) as http:
            if path == "fail":
                response = http.post(f"{self.url}/control/fail", json=params)
            else:
                response = http.post(f"{self.url}/control/{path}", params=params)
            response.raise_for_status()
            return response.json()

    def token_requests(self, grant: str | None = None) -> int:
        key = "token" if grant is None else f"token:{grant}"
        return self.state.counts.get(key, 0)

    def consent(
        self, authorize_url: str, *, approve: bool = True, user: str = "ada@example.com"
    ) -> dict[str, str]:
        """Open the consent page, answer it, return the query the callback would get."""
        with httpx2.Client(trust_env=False) as http:
            page = http.get(authorize_url)
            assert page.status_code == 200, page.text
            query = dict(parse_qsl(urlsplit(authorize_url).query))
            form = {k: query[k] for k in _FORM if k in query}
            form.update(decision="approve" if approve else "deny", user=user)
            answer = http.post(f"{self.url}/authorize", data=form)
            assert answer.status_code == 302, answer.text
            location = answer.headers["location"]
        assert location.startswith(query["redirect_uri"])
        return dict(parse_qsl(urlsplit(location).query))


@contextmanager
def running_sandbox(callback: str = CALLBACK) -> Iterator[Sandbox]:
    port = free_port()
    state = SandboxState(issuer=f"http://127.0.0.1:{port}/sandbox")
    state.register_client(CLIENT_ID, CLIENT_SECRET, [callback])
    with serve(create_sandbox_app(state), port) as base:
        yield Sandbox(state, base + "/sandbox")


def sandbox_project(service: Service) -> Actor:
    """Return the operator of the default project, with the sandbox's OAuth client registered."""
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    service.oauth_clients.register(
        actor, app="sandbox", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    return actor


def connect(service: Service, actor: Actor, sandbox: Sandbox, name: str = "Sandbox - Ada") -> str:
    """Connect the sandbox app through the whole authorization-code flow; return the id."""
    session = service.authorizations.start(actor, app="sandbox", name=name)
    assert session.authorize_url is not None
    outcome = service.system.complete_authorization(sandbox.consent(session.authorize_url))
    assert outcome.status == "succeeded", outcome.error_message
    assert outcome.connection_id is not None
    return outcome.connection_id

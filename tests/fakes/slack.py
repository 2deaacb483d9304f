"""A fake of Slack's Web API as an ``httpx2`` transport: success and failure in the body.

Slack answers HTTP 200 to almost everything; the JSON body's ``ok`` says whether the call
worked and ``error`` names what went wrong: ``invalid_auth`` for a token it does not know,
``token_expired`` for an expired token of an app with token rotation
(https://docs.slack.dev/apis/web-api/, https://docs.slack.dev/authentication/using-token-rotation).
``oauth.v2.access`` with ``grant_type=refresh_token`` rotates both tokens. ``SLACK_APP`` is a
project app definition shaped like the catalog's Slack entry, with its body rules.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

import httpx2

from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor
from gatekey.settings import Settings

CLIENT_ID = "1234.5678"
CLIENT_SECRET = "CANARYslackCLIENTsecret01"
FIRST_TOKEN = "xoxe.xoxb-CANARYslackFIRST01"
FIRST_REFRESH = "xoxe-1-CANARYslackREFRESH01"

SLACK_APP: dict[str, Any] = {
    "key": "slack-test",
    "name": "Slack",
    "docs_url": "https://docs.slack.dev/apis/web-api/",
    "base_url": "https://slack.com/api",
    "auth": [
        {
            "kind": "oauth2",
            "test_request": {
                "path": "/auth.test",
                "account_label": ["team"],
                "error_message": ["error"],
            },
            "responses": {
                "ok_when": {"path": "ok", "equals": True},
                "expired_when": {"path": "error", "one_of": ["token_expired"]},
            },
            "oauth2": {
                "authorization_url": "https://slack.com/oauth/v2/authorize",
                "token_url": "https://slack.com/api/oauth.v2.access",
                "default_scopes": ["chat:write"],
                "scope_separator": ",",
                "client_auth_method": "client_secret_basic",
            },
        }
    ],
}


@dataclass
class FakeSlack:
    """Knows the tokens in ``live`` and ``expired``; ``issue_as`` says what becomes of each
    token it issues on a refresh: ``live``, ``expired`` at once, or ``refused`` (Slack's
    ``invalid_auth``, also its answer to a request from an IP address the workspace does
    not allow): a refresh that does not help."""

    live: set[str] = field(default_factory=lambda: {FIRST_TOKEN})
    expired: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=lambda: {FIRST_REFRESH})
    issue_as: Literal["live", "expired", "refused"] = "live"
    canned: dict[str, bytes] = field(default_factory=dict)
    """JSON bodies to answer for these paths (``/api/...``), whatever the token."""
    requests: list[httpx2.Request] = field(default_factory=list)
    refreshes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self.handle)

    def expire(self, token: str) -> None:
        self.live.discard(token)
        self.expired.add(token)

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        with self._lock:
            self.requests.append(request)
            if request.url.path == "/api/oauth.v2.access":
                return self._token(request)
            if request.url.path in self.canned:
                return httpx2.Response(
                    200,
                    json=None,
                    content=self.canned[request.url.path],
                    headers={"Content-Type": "application/json"},
                )
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            if token in self.expired:
                return httpx2.Response(200, json={"ok": False, "error": "token_expired"})
            if token not in self.live:
                return httpx2.Response(200, json={"ok": False, "error": "invalid_auth"})
            if request.url.path == "/api/auth.test":
                body = {"ok": True, "team": "Acme", "user": "gatekey", "team_id": "T0001"}
                return httpx2.Response(200, json=body)
            if request.url.path == "/api/chat.postMessage":
                channel = json.loads(request.content or b"{}").get("channel")
                if channel != "C0001":
                    return httpx2.Response(200, json={"ok": False, "error": "channel_not_found"})
                return httpx2.Response(200, json={"ok": True, "channel": channel, "ts": "1.2"})
            return httpx2.Response(200, json={"ok": False, "error": "unknown_method"})

    def _token(self, request: httpx2.Request) -> httpx2.Response:
        form = dict(parse_qsl(request.content.decode()))
        used = form.get("refresh_token", "")
        if form.get("grant_type") != "refresh_token" or used not in self.refresh_tokens:
            return httpx2.Response(400, json={"ok": False, "error": "invalid_refresh_token"})
        self.refreshes += 1
        self.refresh_tokens.discard(used)
        access = "xoxe.xoxb-" + secrets.token_urlsafe(12)
        refresh = "xoxe-1-" + secrets.token_urlsafe(12)
        self.refresh_tokens.add(refresh)
        if self.issue_as != "refused":
            (self.live if self.issue_as == "live" else self.expired).add(access)
        body = {
            "ok": True,
            "access_token": access,
            "token_type": "bot",
            "scope": "chat:write",
            "refresh_token": refresh,
            "expires_in": 43200,
        }
        return httpx2.Response(200, json=body)


@dataclass
class SlackWorld:
    """A runtime whose every provider call goes to ``slack``, and a Slack connection in the
    default project (``connection_id``, holding ``FIRST_TOKEN``)."""

    runtime: Runtime
    slack: FakeSlack
    actor: Actor
    connection_id: str


@contextmanager
def slack_world(settings: Settings) -> Iterator[SlackWorld]:
    slack = FakeSlack()
    runtime = open_runtime(settings, transport=slack.transport(), migrate=False)
    try:
        project, _ = runtime.service.system.bootstrap()
        actor = Actor.operator(project.id)
        yield SlackWorld(runtime, slack, actor, slack_connection(runtime, actor))
    finally:
        runtime.close()


def slack_connection(runtime: Runtime, actor: Actor) -> str:
    """Add ``SLACK_APP`` to the actor's project, register its client and import a connection
    holding ``FIRST_TOKEN`` and ``FIRST_REFRESH``; return its id."""
    service = runtime.service
    service.apps.add(actor, SLACK_APP)
    service.oauth_clients.register(
        actor, app="slack-test", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    secret = {"access_token": FIRST_TOKEN, "refresh_token": FIRST_REFRESH}
    document = {
        "format": "gatekey-export/1",
        "encryption": None,
        "connections": [
            {
                "app": "slack-test",
                "auth_kind": "oauth2",
                "name": "Acme Slack",
                "scopes": ["chat:write"],
                "secret": {"plaintext": secret},
            }
        ],
    }
    (created,) = service.transfer.import_connections(actor, document).created
    return created

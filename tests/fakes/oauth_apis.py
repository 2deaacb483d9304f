"""An OAuth2 provider and its API as one ``httpx2`` transport, shaped by the test that uses it
(Salesforce without ``expires_in``, Xero's ``/connections``, Atlassian's accessible resources).

* ``POST https://login.fake.test/token``: the code grant and the refresh grant issue a new
  access token (``at-1``, ``at-2``...) with ``token_fields`` added, and ``expires_in`` only when
  ``expires_in`` is set; every token request is kept in ``token_requests``;
* ``GET .../.well-known/...``: 404, but ``metadata`` at ``https://login.fake.test`` if set;
* any other request is the API: a connection error for the paths in ``unreachable``; 401
  unless it carries a live access token (``expire`` ends them all, as the provider's session
  timeout does); then the JSON of ``routes[path]``, or 404.

``consent`` plays the person: it returns the callback query for an authorization URL, with
``iss`` when asked.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2

LOGIN = "https://login.fake.test"
API = "https://api.fake.test"
CLIENT_ID = "fake-client"
CLIENT_SECRET = "CANARYfakeCLIENTsecret-71c2"


def oauth_app(key: str, **overrides: Any) -> dict[str, Any]:
    """An app definition on the fake, as a dict; ``oauth2`` and the method take overrides
    (``oauth2={...}`` is merged into the spec, other keys into the method)."""
    oauth2 = {
        "authorization_url": f"{LOGIN}/authorize",
        "token_url": f"{LOGIN}/token",
        "default_scopes": ["read"],
        **overrides.pop("oauth2", {}),
    }
    method = {
        "kind": "oauth2",
        "apply": [{"type": "bearer", "value": "{access_token}"}],
        "test_request": {"path": "/me", "account_label": ["name"]},
        "oauth2": oauth2,
        **overrides,
    }
    return {
        "key": key,
        "name": key.title(),
        "docs_url": "https://example.com/docs",
        "base_url": API,
        "builtin": False,
        "auth": [method],
    }


@dataclass
class FakeOAuthApi:
    """The provider; ``routes`` maps API paths to their JSON answers."""

    routes: dict[str, Any] = field(default_factory=lambda: {"/me": {"name": "Ada"}})
    token_fields: dict[str, Any] = field(default_factory=dict)
    expires_in: int | None = None
    metadata: dict[str, Any] | None = None
    issued: list[str] = field(default_factory=list)
    live: set[str] = field(default_factory=set)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    api_requests: list[httpx2.Request] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self.handle)

    def expire(self) -> None:
        """End every access token issued so far (the lifetime passed)."""
        with self._lock:
            self.live.clear()

    def consent(self, authorize_url: str, iss: str | None = None) -> dict[str, str]:
        """The callback query the person's approval would bring."""
        query = dict(parse_qsl(urlsplit(authorize_url).query))
        params = {"state": query["state"], "code": f"code-for-{query['state'][:8]}"}
        if iss is not None:
            params["iss"] = iss
        return params

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        url = str(request.url)
        if request.url.path.startswith("/.well-known/"):
            if self.metadata is None or not url.startswith(LOGIN):
                return httpx2.Response(404, json={"error": "not_found"})
            return httpx2.Response(200, json=self.metadata)
        if url == f"{LOGIN}/token":
            return self._token(request)
        if request.url.path in self.unreachable:
            raise httpx2.ConnectError("Temporary failure in name resolution", request=request)
        with self._lock:
            self.api_requests.append(request)
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            alive = token in self.live
        if not alive:
            return httpx2.Response(401, json={"message": "Session expired or invalid"})
        if request.url.path not in self.routes:
            return httpx2.Response(404, json={"message": "no such resource"})
        return httpx2.Response(200, content=json.dumps(self.routes[request.url.path]))

    def _token(self, request: httpx2.Request) -> httpx2.Response:
        form = dict(parse_qsl(request.content.decode()))
        with self._lock:
            self.token_requests.append(form)
            access = f"at-{len(self.issued) + 1}"
            self.issued.append(access)
            self.live.add(access)
        body: dict[str, Any] = {
            "access_token": access,
            "refresh_token": f"rt-{len(self.issued)}",
            "token_type": "Bearer",
            **self.token_fields,
        }
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return httpx2.Response(200, json=body)

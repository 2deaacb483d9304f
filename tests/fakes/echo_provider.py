"""A provider on loopback that quotes back the credentials it was sent, re-encoded.

Real providers do this in their error messages (``invalid client Basic dXNlcjpwYXNz``), and
some name the account by its key. Served with the stdlib ``http.server`` in a thread:

* ``GET /key/{form}/me`` (header ``X-Api-Key``): 401 whose ``error.message`` holds the key in
  ``form`` (see ``FORMS``); ``whoami`` answers 200 naming the account by the key itself,
  ``whoami-owner`` by a text that contains it.
* ``GET /basic/{form}/me``: 401 quoting the ``Authorization`` header (``header``), its base64
  part (``b64``), re-encoded URL-safe (``b64url``) or lower-cased (``lower``).
* ``GET /echo`` (any credential): 200 with a JSON body quoting the credentials in every form.
* ``POST /token``: the authorization code grant succeeds with ``ACCESS``/``REFRESH`` unless
  ``fail_exchange`` is set (then 401 ``invalid_client`` quoting the ``Authorization`` header);
  the refresh grant always fails with ``invalid_grant`` quoting the refresh token in every
  form and the client's ``Authorization`` header.
* ``GET /oauth/me`` (bearer): 200 naming the account by the access token.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus

API_KEY = "CANARYechoKEY-7f3a9c1e5b"
BASIC_USER = "ACechouser01"
BASIC_PASSWORD = "CANARYechoPASSWORD-42d1"
CLIENT_ID = "echo-client-01"
CLIENT_SECRET = "CANARYechoCLIENTsecret-9b2e"
ACCESS = "CANARYechoACCESS-5e8f0a"
REFRESH = "CANARYechoREFRESH-c61d2b"

FORMS: dict[str, Callable[[str], str]] = {
    "plain": lambda s: s,
    "hex": lambda s: s.encode().hex(),
    "HEX": lambda s: s.encode().hex().upper(),
    "reversed": lambda s: s[::-1],
    "upper": str.upper,
    "lower": str.lower,
    "quote": lambda s: quote(s, safe=""),
    "quote_plus": quote_plus,
    "b64": lambda s: base64.b64encode(s.encode()).decode(),
    "b64url": lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
}


def every_form(value: str) -> dict[str, str]:
    return {name: form(value) for name, form in FORMS.items()}


@dataclass
class EchoState:
    fail_exchange: bool = False


def _basic_forms(header: str) -> dict[str, str]:
    token = header.removeprefix("Basic ")
    raw = base64.b64decode(token)
    return {
        "header": header,
        "b64": token,
        "b64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "lower": header.lower(),
    }


def _handler(state: EchoState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = self.path.split("?", 1)[0].strip("/").split("/")
            key = self.headers.get("X-Api-Key", "")
            auth = self.headers.get("Authorization", "")
            if parts[0] == "key" and len(parts) == 3:
                form = parts[1]
                if form == "whoami":
                    return self._answer(200, {"account": {"name": key}})
                if form == "whoami-owner":
                    return self._answer(200, {"account": {"name": f"the owner of {key}"}})
                said = f"unknown key {FORMS[form](key)} (X-Api-Key: {key})"
                return self._answer(401, {"error": {"message": said}})
            if parts[0] == "basic" and len(parts) == 3:
                said = f"rejected {_basic_forms(auth)[parts[1]]}"
                return self._answer(401, {"error": {"message": said}})
            if parts[0] == "echo":
                sent = key or auth.split(" ", 1)[-1]
                body: dict[str, Any] = {"sent": every_form(sent), "authorization": auth}
                if auth.startswith("Basic "):
                    body["basic"] = _basic_forms(auth)
                return self._answer(200, body)
            if parts == ["oauth", "me"]:
                return self._answer(200, {"name": auth.removeprefix("Bearer ")})
            return self._answer(404, {"error": {"message": "no such path"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            auth = self.headers.get("Authorization", "")
            if form.get("grant_type") == "authorization_code":
                if state.fail_exchange:
                    said = f"client authentication failed: {auth} ({_basic_forms(auth)['b64url']})"
                    return self._answer(401, {"error": "invalid_client", "error_description": said})
                tokens = {"access_token": ACCESS, "refresh_token": REFRESH, "expires_in": 3600}
                return self._answer(200, {**tokens, "token_type": "Bearer"})
            if form.get("grant_type") == "refresh_token":
                sent = form.get("refresh_token", "")
                forms = " ".join(every_form(sent).values())
                said = f"refresh token revoked: {forms}; client {auth}"
                return self._answer(400, {"error": "invalid_grant", "error_description": said})
            return self._answer(400, {"error": "unsupported_grant_type"})

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


def key_app(form: str) -> str:
    """The key of the API-key app whose test request echoes the key in ``form``."""
    slug = form.lower().replace("_", "-")
    return f"echo-key-{slug}-caps" if form.isupper() else f"echo-key-{slug}"


def app_definitions(base: str) -> list[dict[str, Any]]:
    """The catalog entries of the echo provider: an API-key app per echo form, a basic app
    per form, and an OAuth2 app."""
    key_fields = {"properties": {"api_key": {"title": "API key", "secret": True}}}
    basic_fields = {
        "properties": {"user": {"title": "User"}, "password": {"title": "P", "secret": True}}
    }
    common = {"description": "Echoes credentials.", "docs_url": f"{base}/docs", "base_url": base}
    apps: list[dict[str, Any]] = []
    for form in [*FORMS, "whoami", "whoami-owner"]:
        method = {
            "kind": "api_key",
            "fields": key_fields,
            "apply": [{"type": "header", "name": "X-Api-Key", "value": "{api_key}"}],
            "test_request": {
                "path": f"/key/{form}/me",
                "account_label": ["account.name"],
                "error_message": ["error.message"],
            },
        }
        apps.append({**common, "key": key_app(form), "name": f"Echo key {form}", "auth": [method]})
    for form in ("header", "b64", "b64url", "lower"):
        method = {
            "kind": "basic",
            "fields": basic_fields,
            "apply": [{"type": "basic", "username": "{user}", "password": "{password}"}],
            "test_request": {"path": f"/basic/{form}/me", "error_message": ["error.message"]},
        }
        apps.append({**common, "key": f"echo-basic-{form}", "name": f"Echo basic {form}",
                     "auth": [method]})  # fmt: skip
    oauth = {
        "kind": "oauth2",
        "oauth2": {
            "authorization_url": f"{base}/authorize",
            "token_url": f"{base}/token",
            "client_auth_method": "client_secret_basic",
            "pkce": True,
            "default_scopes": ["read"],
        },
        "test_request": {"path": "/oauth/me", "account_label": ["name"]},
    }
    apps.append({**common, "key": "echo-oauth", "name": "Echo OAuth", "auth": [oauth]})
    return apps


@contextmanager
def echo_provider() -> Iterator[tuple[str, EchoState]]:
    """Serve the echo provider; yield its base URL and its state."""
    state = EchoState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()

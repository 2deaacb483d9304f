"""A small "log in, then use the token" API on loopback (werkzeug), for the ``two_step``
minter: it keeps users, personal access tokens and the session tokens it issued, each token
expiring by the API's own clock (``LoginApi.now``; tests move it with the service's).

- ``POST /login`` takes JSON ``{username, password}`` and answers
  ``{"data": {"token", "expires_in"}}``; a wrong password is 401 ``{"message": ...}``.
- ``POST /login/form`` takes a form and answers ``{"token", "expires_at"}`` (ISO-8601); a wrong
  password is 400 with an ``error_description`` that quotes the password back, as careless
  APIs do, so masking is tested against a provider that echoes.
- ``POST /pat`` exchanges a personal access token sent as HTTP basic (user, token) for
  ``{"session": {"id", "expires_at"}}`` (epoch seconds); a wrong one is 403 in plain text.
- ``GET /session?user=...`` exchanges a personal access token sent as ``Authorization: Token
  <pat>`` for ``{"token", "ttl"}`` (seconds, as a string); a wrong one is 401.
- ``GET /me`` needs ``Authorization: Bearer <token>``: 401 for an unknown or expired token.

``outage`` makes every login answer 503; ``delay`` (seconds) slows each login down, so that a
refresh storm's callers arrive while one is in flight. ``logins`` counts the logins that
succeeded.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class LoginApi:
    users: dict[str, str] = field(default_factory=dict)
    pats: dict[str, str] = field(default_factory=dict)  # token -> user
    lifetime: int = 3600
    offset: timedelta = timedelta(0)
    outage: bool = False
    logins: int = 0
    delay: float = 0.0
    tokens: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def _issue(self, user: str) -> tuple[str, datetime]:
        time.sleep(self.delay)
        token = "sess-" + secrets.token_urlsafe(18)
        expires = self.now() + timedelta(seconds=self.lifetime)
        with self.lock:
            self.tokens[token] = (user, expires)
            self.logins += 1
        return token, expires

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self._route(request)(environ, start_response)

    def _route(self, request: Request) -> Response:
        if request.path == "/me" and request.method == "GET":
            return self._me(request)
        if request.path == "/session" and request.method == "GET":
            return self._outage() or self._session(request)
        if request.method != "POST" or request.path not in ("/login", "/login/form", "/pat"):
            return _json({"message": "not found"}, 404)
        busy = self._outage()
        if busy is not None:
            return busy
        if request.path == "/login":
            return self._login_json(request)
        if request.path == "/login/form":
            return self._login_form(request)
        return self._pat(request)

    def _login_json(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        user, password = body.get("username"), body.get("password")
        if not user or self.users.get(user) != password:
            return _json({"message": f"wrong username or password for {user}"}, 401)
        token, _ = self._issue(user)
        return _json({"data": {"token": token, "expires_in": self.lifetime}})

    def _login_form(self, request: Request) -> Response:
        user, password = request.form.get("username"), request.form.get("password")
        if not user or self.users.get(user) != password:
            said = f"no user {user} with password {password}"
            return _json({"error": "invalid_credentials", "error_description": said}, 400)
        token, expires = self._issue(user)
        return _json({"token": token, "expires_at": expires.isoformat()})

    def _pat(self, request: Request) -> Response:
        auth = request.authorization
        user = self.pats.get(auth.password or "") if auth is not None else None
        if auth is None or user != auth.username:
            return Response("personal access token refused\n", 403, mimetype="text/plain")
        token, expires = self._issue(user)
        return _json({"session": {"id": token, "expires_at": int(expires.timestamp())}})

    def _session(self, request: Request) -> Response:
        pat = request.headers.get("Authorization", "").removeprefix("Token ")
        user = request.args.get("user")
        if not user or self.pats.get(pat) != user:
            return _json({"error": "invalid_token"}, 401)
        token, _ = self._issue(user)
        return _json({"token": token, "ttl": str(self.lifetime // 2)})

    def _outage(self) -> Response | None:
        return _json({"message": "down for maintenance"}, 503) if self.outage else None

    def _me(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        found = self.tokens.get(header.removeprefix("Bearer ")) if header else None
        if found is None:
            return _json({"message": "unknown token"}, 401)
        user, expires = found
        if expires <= self.now():
            return _json({"message": "token expired"}, 401)
        return _json({"user": user})


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")


@contextmanager
def login_api(api: LoginApi) -> Iterator[str]:
    """Serve ``api`` on loopback in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, api, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)

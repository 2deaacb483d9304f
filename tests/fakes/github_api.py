"""A small GitHub REST API on loopback (werkzeug), for the ``github_app`` minter: it knows
apps (their client id and public key) and their installations, and issues installation
tokens expiring an hour ahead by its own clock (``GitHubApi.now``; tests move it with the
service's).

- ``POST /app/installations/{id}/access_tokens`` needs ``Authorization: Bearer <app JWT>``,
  verified with PyJWT against the app's public key: RS256, ``iss`` the app's client id (or
  app id), ``iat`` not in the future and ``exp`` at most 10 minutes ahead (both by the API's
  clock, a minute's drift allowed). A JWT it refuses is 401 with GitHub's words
  (``{"message": "A JSON web token could not be decoded", ...}``); an installation it does not
  know (deleted, or of another app) 404 ``Not Found``; a suspended one 403. Answers 201
  ``{"token": "ghs_...", "expires_at": ISO-8601, "permissions": ...}``.
- ``GET /app/installations/{id}`` (as the app) answers the installation with
  ``account.login``.
- ``GET /installation/repositories`` needs ``Authorization: token|Bearer <installation
  token>``: 401 ``Bad credentials`` for an unknown or expired one.

``outage`` makes every answer 503; ``delay`` (seconds) slows each token answer down, so that a
refresh storm arrives while a mint is in flight. ``issued`` counts the tokens issued; ``jwts``
keeps each app JWT it accepted.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt as pyjwt
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

TOKEN_LIFETIME = timedelta(hours=1)
MAX_JWT = 600
DRIFT = 60
_TOKENS = re.compile(r"^/app/installations/(\d+)/access_tokens$")
_INSTALLATION = re.compile(r"^/app/installations/(\d+)$")


@dataclass(frozen=True)
class Installation:
    app: str  # the client id of the app it belongs to
    account: str
    suspended: bool = False


@dataclass
class GitHubApi:
    apps: dict[str, str] = field(default_factory=dict)  # client id -> PEM public key
    installations: dict[str, Installation] = field(default_factory=dict)
    offset: timedelta = timedelta(0)
    outage: bool = False
    delay: float = 0.0
    issued: int = 0
    jwts: list[str] = field(default_factory=list)
    tokens: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # -> installation
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def reset(self) -> None:
        self.apps, self.installations, self.tokens, self.jwts = {}, {}, {}, []
        self.offset, self.outage, self.issued, self.headers_seen = timedelta(0), False, 0, []
        self.delay = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self._route(request)(environ, start_response)

    def _route(self, request: Request) -> Response:
        if self.outage:
            return _json({"message": "Service Unavailable"}, 503)
        minting = _TOKENS.match(request.path)
        if minting is not None and request.method == "POST":
            return self._access_token(request, minting.group(1))
        reading = _INSTALLATION.match(request.path)
        if reading is not None and request.method == "GET":
            return self._installation(request, reading.group(1))
        if request.path == "/installation/repositories" and request.method == "GET":
            return self._repositories(request)
        return _not_found()

    def _app(self, request: Request) -> str | Response:
        """The client id of the app whose JWT authorizes the request, or the refusal."""
        with self.lock:
            self.headers_seen.append(dict(request.headers))
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            return _refused("A JSON web token could not be decoded")
        try:
            issuer = str(pyjwt.decode(token, options={"verify_signature": False}).get("iss"))
        except pyjwt.PyJWTError:
            return _refused("A JSON web token could not be decoded")
        public = self.apps.get(issuer)
        if public is None:
            return _refused(f"Integration not found for iss {issuer}")
        try:
            claims = pyjwt.decode(
                token,
                public,
                algorithms=["RS256"],
                issuer=issuer,
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "require": ["exp", "iat", "iss"],
                },
            )
        except pyjwt.PyJWTError:
            return _refused("A JSON web token could not be decoded")
        now = self.now().timestamp()
        if claims["iat"] > now + DRIFT:
            return _refused(
                "'Issued at' claim ('iat') must be an Integer representing a time in the past"
            )
        if claims["exp"] > now + MAX_JWT + DRIFT or claims["exp"] - claims["iat"] > MAX_JWT + DRIFT:
            return _refused("'Expiration time' claim ('exp') is too far in the future")
        if claims["exp"] <= now:
            return _refused(
                "'Expiration time' claim ('exp') must be a numeric value representing the "
                "future time at which the assertion expires"
            )
        with self.lock:
            self.jwts.append(token)
        return issuer

    def _access_token(self, request: Request, installation_id: str) -> Response:
        time.sleep(self.delay)
        app = self._app(request)
        if isinstance(app, Response):
            return app
        found = self.installations.get(installation_id)
        if found is None or found.app != app:
            return _not_found()
        if found.suspended:
            return _json({"message": "This installation has been suspended"}, 403)
        token = "ghs_" + secrets.token_urlsafe(27)
        expires = (self.now() + TOKEN_LIFETIME).replace(microsecond=0)
        with self.lock:
            self.tokens[token] = (installation_id, expires)
            self.issued += 1
        body = {
            "token": token,
            "expires_at": expires.isoformat().replace("+00:00", "Z"),
            "permissions": {"contents": "read", "metadata": "read"},
            "repository_selection": "all",
        }
        return _json(body, 201)

    def _installation(self, request: Request, installation_id: str) -> Response:
        app = self._app(request)
        if isinstance(app, Response):
            return app
        found = self.installations.get(installation_id)
        if found is None or found.app != app:
            return _not_found()
        body = {
            "id": int(installation_id),
            "account": {"login": found.account, "type": "Organization"},
        }
        return _json(body)

    def _repositories(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        found = self.tokens.get(token) if scheme in ("token", "Bearer") else None
        if found is None or found[1] <= self.now():
            return _json({"message": "Bad credentials", "status": "401"}, 401)
        account = self.installations[found[0]].account
        repo = {
            "id": 1,
            "name": "hello",
            "full_name": f"{account}/hello",
            "owner": {"login": account},
        }
        return _json({"total_count": 1, "repositories": [repo]})


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, mimetype="application/json")


def _not_found() -> Response:
    doc = "https://docs.github.com/rest"
    return _json({"message": "Not Found", "documentation_url": doc, "status": "404"}, 404)


def _refused(message: str) -> Response:
    doc = "https://docs.github.com/rest"
    return _json({"message": message, "documentation_url": doc, "status": "401"}, 401)


@contextmanager
def github_api(api: GitHubApi) -> Iterator[str]:
    """Serve ``api`` on loopback in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, api, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)

"""A token endpoint for the RFC 7523 JWT-bearer grant on loopback (werkzeug), answering as
Google's OAuth 2.0 server does for service accounts, with PyJWT checking every assertion: the
``jwt_bearer`` minter's peer.

``POST /token`` takes ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and
``assertion``. The assertion's ``iss`` picks the registered account; PyJWT verifies its
signature (RS256) with the account's public key, ``aud`` (the token URL), ``exp`` (at most an
hour after ``iat``, by the server's own clock). A ``sub`` must be one of the account's
``delegated`` users (domain-wide delegation). It answers ``{access_token, expires_in: 3599,
token_type: Bearer}`` and, when ``instance_url`` is set, that too (Salesforce). Refusals are
Google's: 400 ``invalid_grant`` ("Invalid JWT Signature.", "Invalid JWT: Token must be a
short-lived token..."), 401 ``unauthorized_client`` for a user the account may not act as.
``outage`` answers 503; ``delay`` slows each grant; ``client`` requires client authentication
(basic or in the body: a ServiceNow endpoint that is not a public client). ``GET /me`` needs a
bearer token it issued.
"""

from __future__ import annotations

import base64
import json
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

GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass
class Account:
    public_pem: str
    delegated: set[str] = field(default_factory=set)


@dataclass
class AssertionServer:
    accounts: dict[str, Account] = field(default_factory=dict)
    instance_url: str | None = None
    client: tuple[str, str] | None = None
    offset: timedelta = timedelta(0)
    outage: bool = False
    delay: float = 0.0
    grants: int = 0
    base: str = ""
    tokens: dict[str, tuple[dict[str, Any], datetime]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def token(self, request: Request) -> Response:
        time.sleep(self.delay)
        if self.outage:
            return Response("busy", 503)
        if self.client is not None and not self._client_ok(request):
            return _error(401, "invalid_client", "Client authentication failed")
        form = request.form
        if form.get("grant_type") != GRANT:
            return _error(400, "unsupported_grant_type", "Invalid grant_type")
        assertion = form.get("assertion", "")
        try:
            unverified = pyjwt.decode(assertion, options={"verify_signature": False})
        except pyjwt.PyJWTError:
            return _error(400, "invalid_grant", "Invalid JWT.")
        account = self.accounts.get(str(unverified.get("iss")))
        if account is None:
            return _error(400, "invalid_grant", "Invalid issuer.")
        try:
            claims = pyjwt.decode(
                assertion,
                account.public_pem,
                algorithms=["RS256"],
                audience=f"{self.base}/token",
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "iat"]},
            )
        except pyjwt.InvalidAudienceError:
            return _error(400, "invalid_grant", "Invalid JWT: Invalid audience.")
        except pyjwt.PyJWTError:
            return _error(400, "invalid_grant", "Invalid JWT Signature.")
        now = self.now().timestamp()
        if not claims["iat"] - 300 <= now < claims["exp"] or claims["exp"] - claims["iat"] > 3600:
            return _error(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe.",
            )
        subject = claims.get("sub")
        if subject is not None and subject not in account.delegated:
            return _error(
                401,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client "
                "not authorized for any of the scopes requested.",
            )
        access = "ya29." + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[access] = (claims, self.now() + timedelta(seconds=3599))
            self.grants += 1
        body: dict[str, Any] = {"access_token": access, "expires_in": 3599, "token_type": "Bearer"}
        if self.instance_url is not None:
            body["instance_url"] = self.instance_url
        return Response(json.dumps(body), content_type="application/json")

    def _client_ok(self, request: Request) -> bool:
        """HTTP basic or the body's ``client_id`` and ``client_secret`` (RFC 6749 section
        2.3.1; ServiceNow's examples use the body)."""
        if self.client is None:
            return False
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            pair = base64.b64decode(header[6:]).decode()
            return pair == f"{self.client[0]}:{self.client[1]}"
        form = request.form
        return (form.get("client_id"), form.get("client_secret")) == self.client

    def me(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        known = self.tokens.get(header.removeprefix("Bearer "))
        if known is None or known[1] <= self.now():
            body = {"error": {"code": 401, "message": "Request had invalid credentials."}}
            return Response(json.dumps(body), 401, content_type="application/json")
        claims = known[0]
        answer = {"emailAddress": claims.get("sub") or claims["iss"], "scope": claims.get("scope")}
        return Response(json.dumps(answer), content_type="application/json")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/token" and request.method == "POST":
            response = self.token(request)
        elif request.path == "/me":
            response = self.me(request)
        else:
            response = Response("not found", 404)
        return response(environ, start_response)


def _error(status: int, error: str, description: str) -> Response:
    body = json.dumps({"error": error, "error_description": description})
    return Response(body, status, content_type="application/json")


@contextmanager
def assertion_server(server: AssertionServer) -> Iterator[str]:
    """Serve ``server`` on a loopback port; yields its base URL."""
    http = make_server("127.0.0.1", 0, server, threaded=True)
    server.base = f"http://127.0.0.1:{http.server_port}"
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.base
    finally:
        http.shutdown()
        thread.join()

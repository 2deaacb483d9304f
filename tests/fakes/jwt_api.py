"""An API on loopback (werkzeug) that takes a signed JWT as its token and checks it with PyJWT,
as Snowflake, Apple App Store Connect and Ghost do: the ``signed_jwt`` minter's peer.

Each known key is registered under the value that names it in a token (the issuer, or the
``kid`` header) with its verifying key (a PEM public key, or an HS* secret as bytes) and the
audience it expects. ``GET /me`` reads the token from ``Authorization: <scheme> <jwt>`` and
answers 200 ``{"iss", "kid", "sub"}`` when PyJWT verifies it (signature, ``exp`` by the API's
own clock, audience); 401 ``{"message": ...}`` otherwise. ``headers`` names request headers
the API also requires (Snowflake's token-type header). ``seen`` keeps the tokens it accepted.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass(frozen=True)
class Verifier:
    key: str | bytes
    algorithm: str
    audience: str | None = None


@dataclass
class JwtApi:
    by_issuer: dict[str, Verifier] = field(default_factory=dict)
    by_kid: dict[str, Verifier] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    offset: timedelta = timedelta(0)
    seen: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def me(self, request: Request) -> Response:
        for name, value in self.headers.items():
            if request.headers.get(name) != value:
                return _refuse(f"header {name} must be {value}")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if not token:
            return _refuse(f"no token after {scheme or 'Authorization'}")
        try:
            header = pyjwt.get_unverified_header(token)
            unverified = pyjwt.decode(token, options={"verify_signature": False})
        except pyjwt.PyJWTError as exc:
            return _refuse(f"not a JWT: {exc}")
        verifier = self.by_kid.get(str(header.get("kid"))) or self.by_issuer.get(
            str(unverified.get("iss"))
        )
        if verifier is None:
            return _refuse("unknown key")
        try:
            claims = pyjwt.decode(
                token,
                verifier.key,
                algorithms=[verifier.algorithm],
                audience=verifier.audience,
                # exp and iat are checked below by the API's own clock
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "iat"]},
            )
        except pyjwt.PyJWTError as exc:
            return _refuse(f"JWT refused: {exc}")
        now = self.now().timestamp()
        if claims["exp"] <= now:
            return _refuse("JWT expired")
        if claims["iat"] > now + 60:
            return _refuse("JWT issued in the future")
        with self.lock:
            self.seen.append(token)
        answer = {"iss": claims.get("iss"), "kid": header.get("kid"), "sub": claims.get("sub")}
        return Response(json.dumps(answer), content_type="application/json")


def _refuse(message: str) -> Response:
    return Response(json.dumps({"message": message}), 401, content_type="application/json")


@contextmanager
def jwt_api(api: JwtApi) -> Iterator[str]:
    """Serve ``api`` on a loopback port; yields its base URL."""

    def app(environ: dict[str, object], start_response: object) -> object:
        request = Request(environ)
        response = api.me(request) if request.path == "/me" else Response("not found", 404)
        return response(environ, start_response)  # type: ignore[arg-type]

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()

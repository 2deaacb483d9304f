"""An OAuth 2.0 token endpoint built on Authlib's server side (nobody here wrote its checks):
the RFC 7523 JWT-bearer grant (``authlib.oauth2.rfc7523.JWTBearerGrant``) and JWT client
authentication (``JWTBearerClientAssertion``, registered as ``private_key_jwt``) for the client
credentials grant, on loopback (werkzeug). Authlib verifies each assertion's signature against
the client's public key, its ``aud`` (this server's token URL), ``exp`` (60 s leeway), and for
client authentication that ``iss`` = ``sub`` and its ``jti`` was never used before.

Authlib's server classes are framework-neutral and extended by subclassing, as its Flask and
Django integrations do; these subclasses only answer its questions from ``AuthlibServer``'s
registries (clients by id, their public keys, the users each may act for).

- ``POST /token``: ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` with
  ``assertion`` (a ``sub`` must be a user the client may act for), or
  ``grant_type=client_credentials`` with ``client_assertion_type`` / ``client_assertion``.
  Answers ``{access_token, token_type: Bearer, expires_in: 3600[, scope]}``; refusals are
  Authlib's (``invalid_grant``, ``invalid_client``, ``unauthorized_client``).
- ``GET /me`` with a bearer token it issued: ``{client_id, sub, scope}``.

``issued`` counts the tokens issued; ``jtis`` keeps the client assertions' ids seen.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion, JWTBearerGrant
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import ECKey, RSAKey
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True)
class Client:
    """A registered client: its id, public key (PEM), the grant it may use, the users it may
    act for (domain-wide delegation) and the scopes it may ask."""

    client_id: str
    public_key: str
    grant: str = JWT_BEARER
    delegated: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()


class _Client(ClientMixin):  # type: ignore[misc]
    def __init__(self, client: Client) -> None:
        self.client = client

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        asked = (scope or "").split()
        return " ".join(s for s in asked if s in self.client.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.client.grant == JWT_BEARER:
            return method == "none"
        return method == "private_key_jwt" and endpoint == "token"

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == self.client.grant


def _public(pem: str) -> RSAKey | ECKey:
    loaded = serialization.load_pem_public_key(pem.encode())
    if isinstance(loaded, rsa.RSAPublicKey):
        return RSAKey.import_key(pem)
    return ECKey.import_key(pem)


@dataclass
class AuthlibServer:
    clients: dict[str, Client] = field(default_factory=dict)
    base: str = ""
    issued: int = 0
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    jtis: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def token_url(self) -> str:
        return f"{self.base}/token"

    @cached_property
    def server(self) -> AuthorizationServer:
        return _server(self)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/token" and request.method == "POST":
            response = self.server.create_token_response(request)
        elif request.path == "/me" and request.method == "GET":
            response = self._me(request)
        else:
            response = Response(json.dumps({"error": "not_found"}), 404)
        return response(environ, start_response)

    def _me(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        found = self.tokens.get(token) if scheme == "Bearer" else None
        if found is None:
            return Response(
                json.dumps({"error": "invalid_token"}), 401, mimetype="application/json"
            )
        return Response(json.dumps(found), 200, mimetype="application/json")


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, request: Request) -> None:
        super().__init__(method=request.method, uri=request.url, headers=request.headers)
        self._request = request
        self.payload = _Payload(request)

    @property
    def args(self) -> Any:
        return self._request.args

    @property
    def form(self) -> Any:
        return self._request.form


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, request: Request) -> None:
        self._request = request

    @property
    def data(self) -> Any:
        return self._request.form

    @cached_property
    def datalist(self) -> defaultdict[str, list[str]]:
        values: defaultdict[str, list[str]] = defaultdict(list)
        for key in self._request.form:
            values[key].extend(self._request.form.getlist(key))
        return values


def _server(peer: AuthlibServer) -> AuthorizationServer:
    """Authlib's authorization server, answering from ``peer``'s registries."""

    def query(client_id: str) -> _Client | None:
        found = peer.clients.get(client_id)
        return _Client(found) if found is not None else None

    class Server(AuthorizationServer):  # type: ignore[misc]
        def query_client(self, client_id: str) -> _Client | None:
            return query(client_id)

        def save_token(self, token: dict[str, Any], request: Any) -> None:
            with peer.lock:
                peer.issued += 1
                peer.tokens[token["access_token"]] = {
                    "client_id": request.client.get_client_id(),
                    "sub": request.user or "",
                    "scope": token.get("scope", ""),
                }

        def create_oauth2_request(self, request: Request) -> _Request:
            return _Request(request)

        def handle_response(self, status: int, body: Any, headers: Any) -> Response:
            return Response(json.dumps(body), status, headers=dict(headers))

        def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
            return None

    class Bearer(JWTBearerGrant):  # type: ignore[misc]
        def resolve_issuer_client(self, issuer: str) -> _Client | None:
            return query(issuer)

        def resolve_client_public_key(self, client: _Client) -> RSAKey | ECKey:
            return _public(client.client.public_key)

        def authenticate_user(self, subject: str) -> str:
            return subject

        def has_granted_permission(self, client: _Client, user: str) -> bool:
            return user in client.client.delegated

        def get_audiences(self) -> list[str]:
            return [peer.token_url]

    class Assertion(JWTBearerClientAssertion):  # type: ignore[misc]
        CLIENT_AUTH_METHOD = "private_key_jwt"

        def resolve_client_public_key(self, client: _Client) -> RSAKey | ECKey:
            return _public(client.client.public_key)

        def get_audiences(self) -> list[str]:
            return [peer.token_url]

        def validate_jti(self, claims: Any, jti: str) -> bool:
            with peer.lock:
                if jti in peer.jtis:
                    return False
                peer.jtis.add(jti)
                return True

    class Credentials(grants.ClientCredentialsGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = ["private_key_jwt"]

    server = Server()
    server.register_token_generator(
        "default",
        BearerTokenGenerator(lambda *_, **__: secrets.token_urlsafe(24)),
    )
    server.register_client_auth_method(Assertion.CLIENT_AUTH_METHOD, Assertion())
    server.register_grant(Bearer)
    server.register_grant(Credentials)
    return server


@contextmanager
def authlib_server(peer: AuthlibServer) -> Iterator[str]:
    """Serve ``peer`` on loopback in a thread; yield its base URL (also ``peer.base``)."""
    server = make_server("127.0.0.1", 0, peer, threaded=True)
    peer.base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer.base
    finally:
        server.shutdown()
        thread.join(5)

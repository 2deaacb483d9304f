"""An API on loopback that requires a client certificate (mutual TLS), as open-banking and
some payment APIs do: Python's ``ssl`` with ``CERT_REQUIRED`` against the test CA
(``tests.fakes.pki``), serving werkzeug. A client without a certificate from that CA fails
the handshake.

- ``POST /token`` is a token endpoint with RFC 8705 client authentication: a
  ``client_credentials`` grant whose ``client_id`` is the presented certificate's common name
  (``tls_client_auth`` with the subject registered as the client id) and no client secret; it
  issues a token bound to the certificate (``cnf`` ``x5t#S256``: RFC 8705 section 3).
- ``GET /me`` needs ``Authorization: Bearer`` with the API key, a token ``/token`` issued or
  one ``introspect`` (RFC 7662, e.g. at oidc-provider) says is active; a bound token only
  with the certificate it is bound to. It answers the certificate's common name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.fakes import pki


def _server_context(folder: Path, trusted: Sequence[str]) -> ssl.SSLContext:
    server = pki.issued("mtls-server", server=True)
    cert, key = folder / "server.pem", folder / "server.key"
    cert.write_text(server.cert)
    key.write_text(server.key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    for authority in (pki.authority().cert, *trusted):
        context.load_verify_locations(cadata=authority)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _common_name(peer: dict[str, Any]) -> str | None:
    for rdn in peer.get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return None


def thumbprint(der: bytes) -> str:
    """RFC 8705's ``x5t#S256``: the base64url SHA-256 of the certificate's DER."""
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def pem_thumbprint(pem: str) -> str:
    """``thumbprint`` of a PEM certificate."""
    return thumbprint(ssl.PEM_cert_to_DER_cert(pem))


#: RFC 7662 at some authorization server: the introspection answer for a token.
Introspect = Callable[[str], dict[str, Any]]


class MtlsApi:
    """The API's state: the tokens it issued (to their certificate's thumbprint), and how
    many token requests it answered."""

    def __init__(self, api_key: str, introspect: Introspect | None) -> None:
        self.api_key = api_key
        self.introspect = introspect
        self.issued: dict[str, str] = {}
        self.token_requests = 0
        self._lock = threading.Lock()

    def token(self, request: Request, peer: dict[str, Any], der: bytes) -> Response:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return _error(400, "unsupported_grant_type")
        if "client_secret" in form or "Authorization" in request.headers:
            return _error(400, "invalid_request", "tls_client_auth takes no client secret")
        if form.get("client_id") != _common_name(peer):
            return _error(401, "invalid_client", "the certificate is not this client's")
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.issued[token] = thumbprint(der)
            self.token_requests += 1
        body = {"access_token": token, "token_type": "Bearer", "expires_in": 600}
        if form.get("scope"):
            body["scope"] = form["scope"]
        return Response(json.dumps(body), 200)

    def me(self, request: Request, peer: dict[str, Any], der: bytes) -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            return _error(401, "invalid_token", "no bearer token")
        if token != self.api_key:
            bound = self._bound_to(token)
            if bound is None:
                return _error(401, "invalid_token", "unknown token")
            if bound != thumbprint(der):
                return _error(401, "invalid_token", "the token is bound to another certificate")
        return Response(json.dumps({"client": _common_name(peer)}))

    def _bound_to(self, token: str) -> str | None:
        with self._lock:
            if token in self.issued:
                return self.issued[token]
        if self.introspect is None:
            return None
        answer = self.introspect(token)
        if answer.get("active") is not True:
            return None
        return str(answer.get("cnf", {}).get("x5t#S256", ""))


def _error(status: int, code: str, description: str = "") -> Response:
    body = {"error": code, **({"error_description": description} if description else {})}
    return Response(json.dumps(body), status)


@contextmanager
def mtls_api(
    api_key: str, introspect: Introspect | None = None, trusted: Sequence[str] = ()
) -> Iterator[tuple[str, MtlsApi]]:
    """Serve the API on a loopback port over TLS; yields its ``https://`` base URL and its
    state. Client certificates from the test CA are accepted, and those in ``trusted``
    (self-signed ones a client registered: RFC 8705 section 2.2)."""
    state = MtlsApi(api_key, introspect)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        sock = environ["werkzeug.socket"]
        peer, der = sock.getpeercert() or {}, sock.getpeercert(binary_form=True) or b""
        if request.path == "/token" and request.method == "POST":
            response = state.token(request, peer, der)
        elif request.path == "/me":
            response = state.me(request, peer, der)
        else:
            response = Response("not found", 404)
        response.content_type = "application/json"
        return response(environ, start_response)

    with tempfile.TemporaryDirectory() as folder:
        server = make_server(
            "127.0.0.1", 0, app, threaded=True, ssl_context=_server_context(Path(folder), trusted)
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"https://127.0.0.1:{server.server_port}", state
        finally:
            server.shutdown()
            thread.join()


@contextmanager
def mtls_server(api_key: str) -> Iterator[str]:
    """``mtls_api``'s base URL alone."""
    with mtls_api(api_key) as (base, _):
        yield base


def certificate_client(
    key: str, base: str, token_url: str, auth_method: str, **oauth2: Any
) -> dict[str, Any]:
    """A client-credentials app whose connections hold a client id, a certificate and its key,
    authenticating with ``auth_method`` at ``token_url`` (RFC 8705) and calling ``GET /me``
    on ``base`` with the token."""
    fields = {
        "client_id": {"title": "Client ID"},
        "client_certificate": {"title": "Client certificate", "format": "certificate"},
        "client_key": {"title": "Client key", "secret": True, "format": "private_key"},
    }
    return {
        "key": key,
        "name": f"Bank ({auth_method})",
        "docs_url": "https://example.test/docs",
        "base_url": base,
        "builtin": False,
        "auth": [
            {
                "kind": "oauth2_client_credentials",
                "fields": {"properties": fields, "required": sorted(fields)},
                "client_certificate": {},
                "oauth2": {"token_url": token_url, "client_auth_method": auth_method, **oauth2},
                "apply": [{"type": "bearer", "value": "{access_token}"}],
                "test_request": {"path": "/me", "account_label": ["client"]},
            }
        ],
    }


def trust_test_ca(folder: Path) -> Path:
    """A CA bundle file holding the test CA, for ``SSL_CERT_FILE``."""
    path = folder / "test-ca.pem"
    path.write_text(pki.authority().cert)
    return path

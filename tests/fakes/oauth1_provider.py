"""An OAuth 1.0a provider built on ``oauthlib``'s server endpoints, on loopback.

``/oauth/request_token``, ``/oauth/authorize`` and ``/oauth/access_token`` are RFC 5849's three
legs (oauthlib's ``RequestTokenEndpoint``, ``AuthorizationEndpoint`` and
``AccessTokenEndpoint``): the request token is issued for the one consumer it knows and the
callback it registered; the authorization page approves at once (the person's click) and
redirects to that callback with the verifier, or with ``denied`` (X's way) when ``deny`` is
set; the verifier buys one access token, whose answer carries ``screen_name`` and ``user_id``
as X's does. Every other path is the resource endpoint. Each request's signature (HMAC-SHA1,
HMAC-SHA256 or RSA-SHA1), timestamp and nonce (each nonce once) is checked; the resource
answers 200 with the token's owner or 401.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from oauthlib.oauth1 import (
    AccessTokenEndpoint,
    AuthorizationEndpoint,
    RequestTokenEndpoint,
    RequestValidator,
    ResourceEndpoint,
)
from oauthlib.oauth1.rfc5849 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256, SIGNATURE_RSA


@dataclass
class Keys:
    consumer_key: str = "gatekeyConsumerKey0001"
    consumer_secret: str = "consumer-secret-CANARY-7f3a"
    token: str = "gatekeyAccessToken0001"
    token_secret: str = "token-secret-CANARY-91bc"
    realm: str | None = None
    rsa_public_key: str | None = None
    """RSA-SHA1: the consumer's public key (``consumer_secret`` then holds the private one)."""
    nonces: set[tuple[str, str]] = field(default_factory=set)
    callback: str = ""
    """The callback the consumer registered; a request token for any other is refused."""
    deny: bool = False
    """The person declines at the authorization page."""
    screen_name: str = "ada_lovelace"
    requests: dict[str, dict[str, str]] = field(default_factory=dict)
    """Request tokens issued: token -> its secret, callback and verifier."""
    granted: dict[str, str] = field(default_factory=dict)
    """Access tokens issued at the third leg: token -> secret."""


class _Validator(RequestValidator):  # type: ignore[misc]
    def __init__(self, keys: Keys) -> None:
        super().__init__()
        self.keys = keys
        self.lock = threading.Lock()

    enforce_ssl = False
    allowed_signature_methods = (SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256, SIGNATURE_RSA)
    client_key_length = (10, 64)
    access_token_length = (10, 64)
    nonce_length = (10, 64)
    dummy_client = "dummyConsumerKey000"
    dummy_access_token = "dummyAccessToken000"

    @property
    def realms(self) -> list[str]:
        return [self.keys.realm] if self.keys.realm else []

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return self.keys.consumer_secret if client_key == self.keys.consumer_key else "dummy"

    def get_rsa_key(self, client_key: str, request: Any) -> str:
        return self.keys.rsa_public_key or ""

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        if token == self.keys.token:
            return self.keys.token_secret
        return self.keys.granted.get(token, "dummy")

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return bool(client_key == self.keys.consumer_key)

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        return bool(token == self.keys.token or token in self.keys.granted)

    # the three legs (RFC 5849 section 2)
    request_token_length = (20, 64)
    verifier_length = (20, 64)
    dummy_request_token = "dummyRequestToken0000"

    def validate_redirect_uri(self, client_key: str, redirect_uri: str, request: Any) -> bool:
        return bool(redirect_uri == self.keys.callback)

    def validate_requested_realms(self, *_: Any, **__: Any) -> bool:
        return True

    def get_default_realms(self, client_key: str, request: Any) -> list[str]:
        return []

    def save_request_token(self, token: dict[str, str], request: Any) -> None:
        self.keys.requests[token["oauth_token"]] = {
            "secret": token["oauth_token_secret"],
            "callback": request.redirect_uri,
        }

    def verify_request_token(self, token: str, request: Any) -> bool:
        return token in self.keys.requests

    def get_realms(self, token: str, request: Any) -> list[str]:
        return []

    def verify_realms(self, *_: Any, **__: Any) -> bool:
        return True

    def get_redirect_uri(self, token: str, request: Any) -> str:
        return self.keys.requests[token]["callback"]

    def save_verifier(self, token: str, verifier: dict[str, str], request: Any) -> None:
        self.keys.requests[token]["verifier"] = verifier["oauth_verifier"]

    def get_request_token_secret(self, client_key: str, token: str, request: Any) -> str:
        return self.keys.requests.get(token, {}).get("secret", "dummy")

    def validate_request_token(self, client_key: str, token: str, request: Any) -> bool:
        return token in self.keys.requests

    def validate_verifier(self, client_key: str, token: str, verifier: str, request: Any) -> bool:
        return bool(self.keys.requests.get(token, {}).get("verifier") == verifier)

    def invalidate_request_token(self, client_key: str, request_token: str, request: Any) -> None:
        self.keys.requests.pop(request_token, None)

    def save_access_token(self, token: dict[str, str], request: Any) -> None:
        self.keys.granted[token["oauth_token"]] = token["oauth_token_secret"]

    def validate_timestamp_and_nonce(
        self, client_key: str, timestamp: str, nonce: str, request: Any, **_: Any
    ) -> bool:
        with self.lock:
            if (timestamp, nonce) in self.keys.nonces:
                return False
            self.keys.nonces.add((timestamp, nonce))
            return True

    def validate_realms(self, *_: Any, **__: Any) -> bool:
        return True

    def validate_realm(self, *_: Any, **__: Any) -> bool:
        return True


class _Legs:
    """The three endpoints of RFC 5849 section 2, as oauthlib answers them."""

    def __init__(self, validator: _Validator, keys: Keys) -> None:
        self.keys = keys
        self.request_tokens = RequestTokenEndpoint(validator)
        self.authorization = AuthorizationEndpoint(validator)
        self.access_tokens = AccessTokenEndpoint(validator)

    def answer(
        self, path: str, uri: str, method: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes] | None:
        sent = body.decode() or None
        if path == "/oauth/request_token":
            got = self.request_tokens.create_request_token_response(uri, method, sent, headers)
        elif path == "/oauth/authorize":
            return self._authorize(uri)
        elif path == "/oauth/access_token":
            owner = {"screen_name": self.keys.screen_name, "user_id": "1815"}
            got = self.access_tokens.create_access_token_response(
                uri, method, sent, headers, credentials=owner
            )
        else:
            return None
        answer_headers, answer_body, status = got
        answer_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return status, dict(answer_headers), (answer_body or "").encode()

    def _authorize(self, uri: str) -> tuple[int, dict[str, str], bytes]:
        """The person approves (or, with ``deny``, declines) at once."""
        query = dict(parse_qsl(urlsplit(uri).query))
        token = query.get("oauth_token", "")
        issued = self.keys.requests.get(token)
        if issued is None:
            return 400, {"Content-Type": "text/plain"}, b"unknown request token"
        if self.keys.deny:
            where = f"{issued['callback']}?{urlencode({'denied': token})}"
            return 302, {"Location": where}, b""
        headers, _, status = self.authorization.create_authorization_response(uri)
        return status, dict(headers), b""


@contextmanager
def oauth1_server(keys: Keys) -> Iterator[str]:
    """Serve the provider on loopback; yield its base URL."""
    validator = _Validator(keys)
    endpoint = ResourceEndpoint(validator)
    legs = _Legs(validator, keys)

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            uri = f"http://{self.headers['Host']}{self.path}"
            headers = dict(self.headers.items())
            leg = legs.answer(urlsplit(self.path).path, uri, self.command, body, headers)
            if leg is not None:
                self._send(*leg)
                return
            valid, request = endpoint.validate_protected_resource_request(
                uri, http_method=self.command, body=body or None, headers=headers
            )
            sent = request.realm if valid else None
            if keys.realm and sent != keys.realm:
                valid = False
            status = 200 if valid else 401
            payload = {"user": "ada", "realm": sent} if valid else {"error": "invalid signature"}
            data = json.dumps(payload).encode()
            self._send(status, {"Content-Type": "application/json"}, data)

        do_GET = do_POST = _answer

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def three_legged_app(
    key: str,
    name: str,
    base_url: str,
    *,
    test_request: dict[str, Any] | None = None,
    **oauth1: Any,
) -> dict[str, Any]:
    """A project app doing three-legged OAuth 1.0a with the server at ``base_url``, keeping
    the account's ``user_id`` and ``screen_name`` as config and named by its screen name."""
    return {
        "key": key,
        "name": name,
        "docs_url": "https://oauth.net/core/1.0a/",
        "base_url": base_url,
        "categories": ["project-management"],
        "auth": [
            {
                "kind": "oauth1",
                "oauth1": {
                    "request_token_url": f"{base_url}/oauth/request_token",
                    "authorization_url": f"{base_url}/oauth/authorize",
                    "access_token_url": f"{base_url}/oauth/access_token",
                    "token_response_config": ["user_id", "screen_name"],
                    "account_label": ["screen_name"],
                    **oauth1,
                },
                "test_request": test_request or {"path": "/me"},
            }
        ],
    }

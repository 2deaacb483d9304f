"""An OAuth 1.0a resource server built on ``oauthlib``'s server endpoints, on loopback: it
checks every request's signature (HMAC-SHA1, HMAC-SHA256 or RSA-SHA1), timestamp and nonce
(each nonce once) against the one consumer and token it knows, and answers 200 with the
token's owner or 401 with oauthlib's reason."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from oauthlib.oauth1 import RequestValidator, ResourceEndpoint
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
        return self.keys.token_secret if token == self.keys.token else "dummy"

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return bool(client_key == self.keys.consumer_key)

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        return bool(token == self.keys.token)

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


@contextmanager
def oauth1_server(keys: Keys) -> Iterator[str]:
    """Serve the resource endpoint on loopback; yield its base URL."""
    endpoint = ResourceEndpoint(_Validator(keys))

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            uri = f"http://{self.headers['Host']}{self.path}"
            headers = dict(self.headers.items())
            valid, request = endpoint.validate_protected_resource_request(
                uri, http_method=self.command, body=body or None, headers=headers
            )
            sent = request.realm if valid else None
            if keys.realm and sent != keys.realm:
                valid = False
            status = 200 if valid else 401
            payload = {"user": "ada", "realm": sent} if valid else {"error": "invalid signature"}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

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

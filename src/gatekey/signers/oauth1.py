"""OAuth 1.0a request signatures (RFC 5849 section 3), by Authlib's ``OAuth1Auth``.

Authlib signs HMAC-SHA1 and RSA-SHA1; HMAC-SHA256 (NetSuite, and the OAuth 1.0a extension
servers accept) is registered with it here: Authlib's signature base string, signed by
``oauthlib``'s ``sign_hmac_sha256_with_client``. RSA-SHA1 is registered again with the same
base string and ``cryptography``'s PKCS#1 v1.5 signature, over a key loaded once per signer
key: Authlib loads the PEM on every request, and loading a 2048-bit key costs about 45 ms
(``bench/sign_request.py``: 1,900x an unsigned request, against 3x for SigV4).
"""

from __future__ import annotations

import base64
import functools
from typing import Any

import httpx2
from authlib.integrations.httpx_client import OAuth1Auth
from authlib.oauth1 import ClientAuth
from authlib.oauth1.rfc5849.signature import generate_signature_base_string
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from oauthlib.oauth1.rfc5849.signature import sign_hmac_sha256_with_client

from gatekey.signing import OAuth1Signing


class _Secrets:
    """The two secrets as oauthlib's signer reads them."""

    def __init__(self, client_secret: str | None, token_secret: str | None) -> None:
        self.client_secret = client_secret or ""
        self.resource_owner_secret = token_secret or ""


def _sign_hmac_sha256(client: Any, request: Any) -> str:
    base_string = generate_signature_base_string(request)
    secrets = _Secrets(client.client_secret, client.token_secret)
    return str(sign_hmac_sha256_with_client(base_string, secrets))


@functools.lru_cache(maxsize=32)
def _rsa_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("RSA-SHA1 needs an RSA private key")
    return key


def _sign_rsa_sha1(client: Any, request: Any) -> str:
    base_string = generate_signature_base_string(request)
    sha1 = hashes.SHA1()  # noqa: S303 (RSA-SHA1 is RFC 5849's name: the provider verifies SHA-1)
    signed = _rsa_key(client.rsa_key).sign(base_string.encode(), padding.PKCS1v15(), sha1)
    return base64.b64encode(signed).decode()


ClientAuth.register_signature_method("HMAC-SHA256", _sign_hmac_sha256)
ClientAuth.register_signature_method("RSA-SHA1", _sign_rsa_sha1)


def _arguments(signing: OAuth1Signing) -> dict[str, Any]:
    return {
        "client_id": signing.consumer_key,
        "client_secret": signing.consumer_secret or None,
        "token": signing.token,
        "token_secret": signing.token_secret,
        "signature_method": signing.signature_method,
        "rsa_key": signing.rsa_key,
        "realm": signing.realm,
    }


def httpx_signer(signing: OAuth1Signing) -> httpx2.Auth:
    return OAuth1Auth(**_arguments(signing))  # type: ignore[no-any-return]


def requests_signer(signing: OAuth1Signing) -> Any:
    from authlib.integrations.requests_client import OAuth1Auth as RequestsOAuth1Auth

    return RequestsOAuth1Auth(**_arguments(signing))

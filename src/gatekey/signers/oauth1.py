"""OAuth 1.0a request signatures (RFC 5849 section 3), by Authlib's ``OAuth1Auth``.

Authlib signs HMAC-SHA1 and RSA-SHA1; HMAC-SHA256 (NetSuite, and the OAuth 1.0a extension
servers accept) is registered with it here: Authlib's signature base string, signed by
``oauthlib``'s ``sign_hmac_sha256_with_client``.
"""

from __future__ import annotations

from typing import Any

import httpx2
from authlib.integrations.httpx_client import OAuth1Auth
from authlib.oauth1 import ClientAuth
from authlib.oauth1.rfc5849.signature import generate_signature_base_string
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


ClientAuth.register_signature_method("HMAC-SHA256", _sign_hmac_sha256)


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

"""OAuth 1.0a request signatures (RFC 5849 section 3), by Authlib's ``OAuth1Auth``."""

from __future__ import annotations

from typing import Any

import httpx2
from authlib.integrations.httpx_client import OAuth1Auth

from gatekey.signing import OAuth1Signing


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

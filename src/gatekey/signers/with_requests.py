"""The ``requests`` flavour of ``gatekey.signers.httpx_auth`` (imported only when asked for:
``requests`` is not a dependency of Gatekey)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gatekey.signers import aws, oauth1
from gatekey.signing import AwsSigning, OAuth1Signing

if TYPE_CHECKING:
    from gatekey.models import Credentials

try:
    import requests
    from requests.auth import AuthBase, HTTPBasicAuth
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("gatekey.signers.requests_auth needs the requests package") from exc


class _Applied(AuthBase):
    def __init__(self, credentials: Credentials) -> None:
        self._headers = dict(credentials.headers)
        self._query = dict(credentials.query)
        basic = credentials.basic
        self._basic = HTTPBasicAuth(basic.username, basic.password) if basic else None
        signing = credentials.signing
        self._signer: Any = None
        if isinstance(signing, OAuth1Signing):
            self._signer = oauth1.requests_signer(signing)
        elif isinstance(signing, AwsSigning):
            self._signer = aws.requests_signer(signing)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(self._headers)
        if self._query:
            request.prepare_url(request.url or "", self._query)
        if self._basic is not None:
            request = self._basic(request)
        if self._signer is not None:
            request = self._signer(request)
        return request

    def __repr__(self) -> str:
        return "<gatekey requests auth>"


def requests_auth(credentials: Credentials) -> AuthBase:
    return _Applied(credentials)

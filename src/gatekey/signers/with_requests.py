"""The ``requests`` flavour of ``gatekey.signers.httpx_auth`` and ``tls_context`` (imported
only when asked for: ``requests`` is not a dependency of Gatekey).

``requests`` takes a client certificate as file paths only; ``requests_adapter`` hands
urllib3 the ``ssl.SSLContext`` of ``signers.tls`` instead (its pool manager's
``ssl_context``, through ``HTTPAdapter.init_poolmanager``), so the key is never left in a
file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gatekey.signers import aws, oauth1, tls
from gatekey.signing import AwsSigning, OAuth1Signing

if TYPE_CHECKING:
    from gatekey.models import Credentials

try:
    import requests
    from requests.adapters import DEFAULT_POOLSIZE, HTTPAdapter
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


def requests_adapter(credentials: Credentials) -> HTTPAdapter:
    adapter = HTTPAdapter()
    identity = credentials.client_certificate
    if identity is not None:
        context = tls.context(identity)
        adapter.init_poolmanager(DEFAULT_POOLSIZE, DEFAULT_POOLSIZE, ssl_context=context)
    return adapter

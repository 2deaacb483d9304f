"""Ready auth objects built from resolved ``Credentials``: ``httpx_auth`` (an ``httpx2.Auth``)
and ``requests_auth`` (a ``requests`` auth), for an execution that calls the app itself.

Each applies what the connection's kind needs: the headers, query parameters and basic
credentials resolution gave, and for the signing kinds (OAuth 1.0a, AWS SigV4) a signature
over each request, made by Authlib and botocore (``signers.oauth1``, ``signers.aws``). The
proxy signs with the same code (``signature``).

    creds = gk.resolve("conn_...")
    httpx2.get(creds.base_url + "/bucket/key", auth=signers.httpx_auth(creds))

An app that asks for a client certificate (mutual TLS) has it in ``client_certificate``;
``tls_context`` makes the ``ssl.SSLContext`` that presents it, and ``requests_adapter`` the
``requests`` transport adapter that does, to mount for the app's base URL only:

    session = requests.Session()
    session.mount(creds.base_url, signers.requests_adapter(creds))
    session.get(creds.base_url + "/me", auth=signers.requests_auth(creds))
"""

from __future__ import annotations

import ssl
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import httpx2

from gatekey.signers import aws, oauth1, tls
from gatekey.signing import AwsSigning, OAuth1Signing, Signing

if TYPE_CHECKING:
    from gatekey.models import Credentials

__all__ = ["httpx_auth", "requests_adapter", "requests_auth", "signature", "tls_context"]


def signature(signing: Signing | None) -> httpx2.Auth | None:
    """The ``httpx2.Auth`` that signs each request for ``signing`` (None: nothing to sign)."""
    if isinstance(signing, OAuth1Signing):
        return oauth1.httpx_signer(signing)
    if isinstance(signing, AwsSigning):
        return aws.httpx_signer(signing)
    return None


class _Applied(httpx2.Auth):
    """Headers, query and basic credentials from resolution, then the signature, if any."""

    def __init__(self, credentials: Credentials) -> None:
        self._headers = dict(credentials.headers)
        self._query = dict(credentials.query)
        basic = credentials.basic
        self._basic = httpx2.BasicAuth(basic.username, basic.password) if basic else None
        self._signer = signature(credentials.signing)
        self.requires_request_body = self._signer is not None

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, Any, None]:
        for name, value in self._headers.items():
            request.headers[name] = value
        if self._query:
            request.url = request.url.copy_merge_params(self._query)
        if self._basic is not None:
            request = next(self._basic.auth_flow(request))
        if self._signer is None:
            yield request
            return
        yield from self._signer.auth_flow(request)

    def __repr__(self) -> str:
        return "<gatekey auth>"


def httpx_auth(credentials: Credentials) -> httpx2.Auth:
    """An ``httpx2.Auth`` that authenticates every request as ``credentials`` say."""
    return _Applied(credentials)


def tls_context(credentials: Credentials) -> ssl.SSLContext | None:
    """The ``ssl.SSLContext`` presenting the connection's client certificate, for
    ``httpx2.Client(verify=...)``; None when the app asks for none (``signers.tls``)."""
    identity = credentials.client_certificate
    return tls.context(identity) if identity is not None else None


def requests_auth(credentials: Credentials) -> Any:
    """A ``requests`` auth object (``requests.auth.AuthBase``) that authenticates every
    request as ``credentials`` say; needs the ``requests`` package."""
    from gatekey.signers import with_requests

    return with_requests.requests_auth(credentials)


def requests_adapter(credentials: Credentials) -> Any:
    """A ``requests`` ``HTTPAdapter`` whose TLS connections present the connection's client
    certificate (a plain one when the app asks for none); needs the ``requests`` package."""
    from gatekey.signers import with_requests

    return with_requests.requests_adapter(credentials)

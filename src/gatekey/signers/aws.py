"""AWS Signature Version 4 (botocore's ``SigV4Auth``; ``S3SigV4Auth`` for S3's unsigned
payload) over each request: method, URL, the headers it is sent with and its body."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

import httpx2
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as AwsCredentials

from gatekey.signing import AwsSigning

#: Headers a transport may change on the way: never signed.
_UNSIGNED = frozenset({"connection", "user-agent", "accept-encoding", "content-length"})


def _signed_headers(
    signing: AwsSigning, method: str, url: str, headers: Mapping[str, str], body: bytes
) -> dict[str, str]:
    """The headers to send: ``headers`` with the signature's (``Authorization``,
    ``X-Amz-Date``, ``X-Amz-Security-Token``, ``X-Amz-Content-SHA256``)."""
    kept = {k: v for k, v in headers.items() if k.lower() not in _UNSIGNED}
    request = AWSRequest(method=method, url=url, data=body, headers=kept)
    credentials = AwsCredentials(
        signing.access_key_id, signing.secret_access_key, signing.session_token
    )
    auth_class = S3SigV4Auth if signing.unsigned_payload else SigV4Auth
    auth_class(credentials, signing.service, signing.region).add_auth(request)
    return dict(request.headers.items())


class _HttpxSigV4(httpx2.Auth):
    requires_request_body = True

    def __init__(self, signing: AwsSigning) -> None:
        self._signing = signing

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, Any, None]:
        signed = _signed_headers(
            self._signing, request.method, str(request.url), request.headers, request.content
        )
        for name, value in signed.items():
            request.headers[name] = value
        yield request

    def __repr__(self) -> str:
        return "<SigV4 signer>"


def httpx_signer(signing: AwsSigning) -> httpx2.Auth:
    return _HttpxSigV4(signing)


class _RequestsSigV4:
    def __init__(self, signing: AwsSigning) -> None:
        self._signing = signing

    def __call__(self, request: Any) -> Any:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        signed = _signed_headers(self._signing, request.method, request.url, request.headers, body)
        request.headers.update(signed)
        return request


def requests_signer(signing: AwsSigning) -> Any:
    return _RequestsSigV4(signing)

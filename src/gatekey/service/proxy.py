"""The credential-free proxy: forward a request to a connection's app with its auth applied.

The caller never holds a token: Gatekey resolves the connection's credentials (refreshing an
expiring OAuth2 token first), sends the request to the app's base URL, and when the app
answers with one of its ``expired_token_status`` codes, or with a small JSON body its
``expired_when`` rule reads as expired (Slack says so on an HTTP 200), refreshes once and
retries once. OAuth 1.0a and AWS SigV4 connections are signed per request
(``gatekey.signers``, the SDK's signers' code). The applied headers win over the caller's,
names compared case-insensitively, but for those the app marks overridable (a version
header such as ``Notion-Version``). A target outside the app's base URL is refused before
anything is sent.
"""

from __future__ import annotations

import base64
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import httpx2

from gatekey.domain import answers
from gatekey.domain.apply import merged_headers
from gatekey.domain.inputs import checked_arguments
from gatekey.errors import InvalidInput
from gatekey.metrics import Metrics
from gatekey.models import Credentials
from gatekey.probe import Prober
from gatekey.service.actor import Actor, authorize
from gatekey.service.credentials import Resolver
from gatekey.signers import signature
from gatekey.unreachable import unreachable

MAX_BODY = 10 * 1024 * 1024
_DROP_REQUEST = frozenset(
    {"authorization", "cookie", "host", "content-length", "connection", "proxy-authorization",
     "transfer-encoding", "te", "upgrade", "x-api-key", "x-csrf-token"}
)  # fmt: skip
_KEEP_RESPONSE = frozenset(
    {"content-type", "content-language", "cache-control", "etag", "last-modified", "link",
     "location", "retry-after", "x-request-id", "x-ratelimit-limit", "x-ratelimit-remaining",
     "x-ratelimit-reset"}
)  # fmt: skip


@dataclass(frozen=True)
class Proxied:
    """The app's answer, with only the headers worth passing on."""

    status: int
    headers: dict[str, str]
    body: bytes = field(repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """The credential values the request was sent with (for masking what is recorded)."""


def target_url(base_url: str, path: str) -> str:
    """Join a relative path to the base URL; refuse anything that would leave it."""
    raw = unquote(path)
    if "://" in raw or raw.startswith("//") or "\\" in raw or any(ord(c) < 32 for c in raw):
        raise InvalidInput("the proxy path must be relative to the app's base URL")
    try:
        base = urlsplit(base_url)
    except ValueError:  # "http://[::1": the client would refuse it too
        raise InvalidInput("the app's base URL is not a URL Gatekey can send to") from None
    joined = posixpath.normpath(posixpath.join(base.path or "/", raw.lstrip("/")))
    prefix = (base.path or "/").rstrip("/")
    if not (joined == prefix or joined.startswith(prefix + "/") or prefix == ""):
        raise InvalidInput("the proxy path leaves the app's base URL")
    if raw.endswith("/") and not joined.endswith("/"):
        joined += "/"
    return f"{base.scheme}://{base.netloc}{joined}"


def _secret(value: object) -> bool:
    """A signing value worth masking: any string long enough to be a key or token."""
    return isinstance(value, str) and len(value) >= 8


@checked_arguments
class Proxy:
    """Requests to a connection's app, authenticated by Gatekey (the execution never sees the
    credentials)."""

    def __init__(self, resolver: Resolver, prober: Prober, metrics: Metrics) -> None:
        self.resolver = resolver
        self.prober = prober
        self.metrics = metrics

    def send(
        self,
        actor: Actor,
        connection_id: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Proxied:
        """Send one request to the connection's app, authenticated by Gatekey."""
        authorize(actor, "proxy")
        if len(body) > MAX_BODY:
            raise InvalidInput("the request body is larger than 10 MiB")
        credentials = self.resolver.resolve(actor, connection_id)
        url = target_url(credentials.base_url, path)
        sent = {k: v for k, v in (headers or {}).items() if k.lower() not in _DROP_REQUEST}
        response = self._request(credentials, method, url, query or {}, sent, body)
        content_type = response.headers.get("content-type", "")
        if answers.expired(credentials, response.status_code, content_type, response.content):
            token = credentials.fields.get("access_token")
            credentials = self.resolver.resolve(
                actor, connection_id, stale_token=str(token) if token else None
            )
            response = self._request(credentials, method, url, query or {}, sent, body)
        kept = {k: v for k, v in response.headers.items() if k.lower() in _KEEP_RESPONSE}
        used = tuple(str(v) for v in credentials.fields.values() if isinstance(v, str))
        if credentials.signing is not None:
            used += tuple(v for v in credentials.signing.model_dump().values() if _secret(v))
        return Proxied(response.status_code, kept, response.content[:MAX_BODY], used)

    def _request(
        self,
        credentials: Credentials,
        method: str,
        url: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> httpx2.Response:
        auth_headers = dict(credentials.headers)
        if credentials.basic is not None:
            pair = f"{credentials.basic.username}:{credentials.basic.password}".encode()
            auth_headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        try:
            with self.metrics.provider_call(credentials.app, "proxy"):
                return self.prober.client_for(credentials.client_certificate).request(
                    method,
                    url,
                    params={**query, **credentials.query},
                    headers=merged_headers(headers, auth_headers, credentials.overridable_headers),
                    content=body or None,
                    auth=signature(credentials.signing) or httpx2.USE_CLIENT_DEFAULT,
                )
        except httpx2.HTTPError as exc:
            raise unreachable(exc, app=credentials.app) from None

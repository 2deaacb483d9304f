"""A provider's OAuth2 endpoints, through Authlib's client (RFC 6749, RFC 7636, RFC 7009), and
its authorization-server metadata (RFC 8414, or OpenID Connect Discovery).

Authlib speaks the protocol; this module feeds it the app's quirks from the catalog (URL
templates, scope separator, extra parameters, the shape of each endpoint's requests:
``oauth.endpoint_shapes``) and sorts every outcome of a token request (``oauth.token_answers``)
into the classes the rest of Gatekey acts on:

- ``GrantRevoked``: the grant is gone (``invalid_grant`` or the app's equivalent, read where the
  app says: ``revoked_error_fields``, on an error status or a 200);
- ``OAuthClientRejected``: the OAuth client is misconfigured (``invalid_client``);
- ``TokenRequestRefused``: any other refusal; retrying will not help;
- ``ProviderUnavailable``: timeouts, connection errors, 5xx, 429 (with ``Retry-After``),
  bodies that are not a JSON object; retrying later may.

Messages carry the provider's words with every secret value of the request masked, in every
form it may be echoed in (``domain.masking``: ``base64(client_id:client_secret)`` included).

Token requests of a connection holding a client certificate (RFC 8705: ``tls_client_auth``,
``self_signed_tls_client_auth``, or a provider that binds its tokens to the certificate) go
through a transport presenting it (``client_certificates.PerCertificate``), the certificate
the proxy presents on the API calls that token is then used for.

``server_metadata`` reads what the callback check of RFC 9207 needs: the server's ``issuer``
and whether it sends ``iss`` on every authorization response
(``authorization_response_iss_parameter_supported``). A document whose ``issuer`` is not the
identifier it was fetched for is ignored (RFC 8414 section 3.3). Answers are kept for an hour,
the absence of one for five minutes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx2
from authlib.integrations.httpx_client import OAuth2Client, OAuthError

from gatekey.catalog.schema import OAuth2Spec
from gatekey.client_certificates import PerCertificate, TransportFactory
from gatekey.domain.masking import Masker
from gatekey.domain.templates import render
from gatekey.egress import usable_request
from gatekey.errors import (
    DestinationBlocked,
    TokenRequestRefused,
)
from gatekey.oauth import endpoint_shapes as shapes
from gatekey.oauth.client_assertions import AssertionAuth
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.token_answers import TokenResponse, checked, classify, response_hook
from gatekey.signing import ClientTls
from gatekey.unreachable import overloaded, unreachable

#: The RFC 7523 grant type.
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: The name Authlib knows "send no client authentication" by, for assertion grants.
NO_CLIENT_AUTH = "gatekey_no_client_auth"
METADATA_TTL = 3600.0
NO_METADATA_TTL = 300.0


@dataclass(frozen=True)
class ServerMetadata:
    """What Gatekey reads of an authorization server's metadata document."""

    issuer: str
    iss_parameter_supported: bool


def metadata_urls(issuer: str) -> list[str]:
    """Where the metadata of ``issuer`` may be: RFC 8414 section 3.1 (the well-known segment
    before the issuer's path), then OpenID Connect Discovery (after it)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    origin = f"{parts.scheme}://{parts.netloc}"
    return [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}{path}/.well-known/openid-configuration",
    ]


class _Shared(httpx2.BaseTransport):
    """Lend the process's transport (its connection pool) to a short-lived client."""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        return self._inner.handle_request(request)

    def close(self) -> None:
        """The pool outlives the client; the runtime closes it."""


def _unauthenticated(
    client: Any, method: str, uri: str, headers: Any, body: Any
) -> tuple[str, Any, Any]:
    """Authlib's client-auth hook that adds nothing (not even a ``client_id``)."""
    del client, method
    return uri, headers, body


class _Session(OAuth2Client):  # type: ignore[misc]
    """Authlib's client; a token URL it cannot send is ``InvalidInput``, not a crash."""

    def build_request(self, method: str, url: httpx2.URL | str, **options: Any) -> httpx2.Request:
        return usable_request(super().build_request, method, url, **options)


class ProviderClient:
    """Token requests for any app; the transport and the clock are injected, and ``with_tls``
    makes the transport presenting a client certificate."""

    def __init__(
        self,
        transport: httpx2.BaseTransport,
        *,
        timeout: float,
        clock: Callable[[], datetime],
        user_agent: str = "gatekey",
        with_tls: TransportFactory | None = None,
    ) -> None:
        self._transport = _Shared(transport)
        self._transports = PerCertificate(transport, with_tls)
        self._timeout = timeout
        self._clock = clock
        self._user_agent = user_agent
        self._metadata: dict[str, tuple[float, ServerMetadata | None]] = {}
        self._metadata_lock = threading.Lock()

    @property
    def timeout(self) -> float:
        """Seconds each phase of a request to a provider may take."""
        return self._timeout

    def close(self) -> None:
        """Close the transports kept per client certificate (the shared one is the runtime's)."""
        self._transports.close()

    @contextmanager
    def _client(
        self,
        spec: OAuth2Spec,
        client: ClientCredentials | None,
        secrets: Sequence[str],
        app_name: str,
        redirect_uri: str | None = None,
        values: Mapping[str, str] | None = None,
        identity: ClientTls | None = None,
    ) -> Iterator[OAuth2Client]:
        """Authlib's client for one request, presenting ``identity`` when given; without
        ``client`` the request carries no client authentication at all (an RFC 7523 assertion
        grant that is its own proof)."""
        anonymous = client is None
        client = client or ClientCredentials("", "")
        session = _Session(
            client_id=client.client_id,
            client_secret=client.client_secret,
            token_endpoint_auth_method=(
                NO_CLIENT_AUTH if anonymous else shapes.auth_method(spec, spec.token_request)
            ),
            revocation_endpoint_auth_method=shapes.auth_method(spec, spec.revocation_request),
            redirect_uri=redirect_uri,
            code_challenge_method="S256" if spec.pkce else None,
            transport=_Shared(self._transports.get(identity)) if identity else self._transport,
            timeout=self._timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": self._user_agent, "Accept": "application/json"},
        )
        for method in shapes.client_auth_methods():
            session.register_client_auth_method(method)
        session.register_client_auth_method((NO_CLIENT_AUTH, _unauthenticated))
        if spec.client_assertion is not None and not anonymous:
            session.register_client_auth_method(
                AssertionAuth(spec.client_assertion, client, values or {}, clock=self._clock)
            )
        masked = Masker(
            [s for s in (client.client_secret, *secrets) if s],
            pairs=[] if anonymous else [(client.client_id, client.client_secret)],
        )
        hook = response_hook(spec, app_name, self._clock, masked)
        session.register_compliance_hook("access_token_response", hook)
        session.register_compliance_hook("refresh_token_response", hook)
        with session:
            try:
                yield session
            except OAuthError as exc:
                proof = shapes.proof(spec)
                raise classify(app_name, exc, masked, keyed=anonymous, proof=proof) from None
            except httpx2.HTTPError as exc:
                raise unreachable(exc, app=app_name) from None

    def server_metadata(self, issuer: str) -> ServerMetadata | None:
        """The metadata the server ``issuer`` publishes, or None if it publishes none."""
        now = time.monotonic()
        with self._metadata_lock:
            kept = self._metadata.get(issuer)
        if kept is not None and kept[0] > now:
            return kept[1]
        found = self._fetch_metadata(issuer)
        ttl = METADATA_TTL if found is not None else NO_METADATA_TTL
        with self._metadata_lock:
            self._metadata[issuer] = (now + ttl, found)
        return found

    def _fetch_metadata(self, issuer: str) -> ServerMetadata | None:
        headers = {"User-Agent": self._user_agent, "Accept": "application/json"}
        with httpx2.Client(
            transport=self._transport, timeout=self._timeout, follow_redirects=False
        ) as http:
            for url in metadata_urls(issuer):
                try:
                    response = http.get(url, headers=headers)
                    body = response.json() if response.status_code == 200 else None
                except (httpx2.HTTPError, ValueError, DestinationBlocked):
                    continue  # no metadata there: the app's declaration decides
                if isinstance(body, dict) and body.get("issuer") == issuer:
                    supported = body.get("authorization_response_iss_parameter_supported")
                    return ServerMetadata(issuer, supported is True)
        return None

    def authorization_url(
        self,
        spec: OAuth2Spec,
        values: Mapping[str, str],
        client: ClientCredentials,
        *,
        redirect_uri: str,
        scopes: Sequence[str],
        state: str,
        code_verifier: str,
    ) -> str:
        """Return the URL that asks the person for consent (PKCE S256 when the app uses it)."""
        assert spec.authorization_url is not None
        params: dict[str, Any] = dict(spec.extra_authorize_params)
        params[spec.scope_param] = spec.scope_separator.join(scopes) if scopes else None
        if spec.scope_param != "scope":
            params["scope"] = None
        with self._client(spec, client, [], "", redirect_uri) as session:
            url, _ = session.create_authorization_url(
                render(spec.authorization_url, values),
                state=state,
                code_verifier=code_verifier if spec.pkce else None,
                **{k: v for k, v in params.items() if v is not None},
            )
        return str(url)

    def exchange_code(
        self,
        spec: OAuth2Spec,
        values: Mapping[str, str],
        client: ClientCredentials,
        *,
        app_name: str,
        redirect_uri: str,
        code: str,
        code_verifier: str,
    ) -> TokenResponse:
        """Trade an authorization code for tokens."""
        extra: dict[str, Any] = dict(spec.extra_token_params)
        if spec.pkce:
            extra["code_verifier"] = code_verifier
        sent_at = self._clock()
        with self._client(spec, client, [code, code_verifier], app_name, redirect_uri, values) as s:
            body = s.fetch_token(
                render(spec.token_url, values),
                headers=shapes.headers(spec.token_request, values),
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                **extra,
            )
        return checked(body, sent_at, app_name)

    def refresh(
        self,
        spec: OAuth2Spec,
        values: Mapping[str, str],
        client: ClientCredentials,
        *,
        app_name: str,
        refresh_token: str,
    ) -> TokenResponse:
        """Use a refresh token (RFC 6749 section 6)."""
        sent_at = self._clock()
        with self._client(spec, client, [refresh_token], app_name, values=values) as session:
            body = session.refresh_token(
                render(spec.refresh_url or spec.token_url, values),
                refresh_token=refresh_token,
                headers=shapes.headers(spec.token_request, values),
                **spec.extra_token_params,
            )
        return checked(body, sent_at, app_name)

    def client_credentials(
        self,
        spec: OAuth2Spec,
        values: Mapping[str, str],
        client: ClientCredentials,
        *,
        app_name: str,
        scopes: Sequence[str],
        identity: ClientTls | None = None,
    ) -> TokenResponse:
        """Fetch a token for the client itself (RFC 6749 section 4.4), presenting ``identity``
        on the handshake when given (RFC 8705)."""
        extra: dict[str, Any] = dict(spec.extra_token_params)
        if scopes:
            extra["scope"] = spec.scope_separator.join(scopes)
        sent_at = self._clock()
        with self._client(spec, client, [], app_name, values=values, identity=identity) as session:
            body = session.fetch_token(
                render(spec.token_url, values),
                headers=shapes.headers(spec.token_request, values),
                grant_type="client_credentials",
                **extra,
            )
        return checked(body, sent_at, app_name)

    def assertion_grant(
        self,
        spec: OAuth2Spec,
        values: Mapping[str, str],
        client: ClientCredentials | None,
        *,
        app_name: str,
        assertion: str,
        scope: str | None = None,
        identity: ClientTls | None = None,
    ) -> TokenResponse:
        """Trade a signed JWT for an access token (RFC 7523 section 2.1: Google service
        accounts, Salesforce and ServiceNow JWT bearer). The assertion is the proof; the
        request authenticates the client too only when the app has one (ServiceNow)."""
        sent_at = self._clock()
        with self._client(
            spec, client, [assertion], app_name, values=values, identity=identity
        ) as session:
            body = session.fetch_token(
                render(spec.token_url, values),
                headers=shapes.headers(spec.token_request, values),
                grant_type=JWT_BEARER,
                assertion=assertion,
                **({"scope": scope} if scope else {}),
                **spec.extra_token_params,
            )
        return checked(body, sent_at, app_name)

    def revoke(
        self,
        spec: OAuth2Spec,
        values: Mapping[str, str],
        client: ClientCredentials,
        *,
        app_name: str,
        token: str,
        token_type_hint: str,
    ) -> None:
        """Revoke a token (RFC 7009); raise ``ProviderUnavailable`` on 5xx so callers retry."""
        assert spec.revocation_url is not None
        with self._client(spec, client, [token], app_name, values=values) as session:
            response = session.revoke_token(
                render(spec.revocation_url, values),
                token=token,
                token_type_hint=token_type_hint,
                headers=shapes.headers(spec.revocation_request, values),
            )
        busy = overloaded(
            response, who=app_name, app=app_name, context=" to the revocation", now=self._clock()
        )
        if busy is not None:
            raise busy
        if response.status_code >= 400:
            raise TokenRequestRefused(
                f"{app_name} refused the revocation (HTTP {response.status_code})",
                app=app_name,
                provider_status=response.status_code,
            )

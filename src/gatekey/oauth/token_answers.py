"""What a token endpoint answered, sorted into the classes the rest of Gatekey acts on
(``oauth.provider`` feeds Authlib's responses through these): outages and bodies that are not
JSON (``ProviderUnavailable``), a revoked grant wherever the app says its code may be
(``GrantRevoked``), a refused OAuth client (``OAuthClientRejected``) and any other refusal
(``TokenRequestRefused``); the provider's words with every secret of the request masked."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx2
from authlib.integrations.httpx_client import OAuthError

from gatekey.catalog.schema import OAuth2Spec
from gatekey.domain.bodies import dig
from gatekey.domain.masking import Masker
from gatekey.errors import (
    CredentialsRejected,
    GrantRevoked,
    OAuthClientRejected,
    ProviderUnavailable,
    TokenRequestRefused,
)
from gatekey.unreachable import overloaded

_CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
MAX_MESSAGE = 300


@dataclass(frozen=True)
class TokenResponse:
    """A token endpoint's answer and when the request was sent (expiry counts from there)."""

    body: dict[str, Any] = field(repr=False)
    sent_at: datetime


def response_hook(
    spec: OAuth2Spec, app_name: str, clock: Callable[[], datetime], masked: Masker
) -> Callable[[httpx2.Response], httpx2.Response]:
    """Sort out answers Authlib would misread before it parses them: outages, bodies that are
    not JSON, and a revoked grant wherever the app says its code may be (``revoked_error_fields``:
    HubSpot's ``status``), on an error status or on a 200 (GitHub, Slack)."""

    def hook(response: httpx2.Response) -> httpx2.Response:
        status = response.status_code
        busy = overloaded(response, who=f"{app_name}'s token endpoint", app=app_name, now=clock())
        if busy is not None:
            raise busy
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProviderUnavailable(
                f"{app_name}'s token endpoint answered {status} with a body that is not JSON",
                app=app_name,
                provider_status=status,
            )
        revoked = _revoked_error(spec, body)
        if revoked is not None:
            error = masked.text(revoked)[:MAX_MESSAGE]
            said = _said(body, masked) or error
            raise GrantRevoked(f"{app_name} says the grant is no longer valid: {said}", error=error)
        if status >= 400 and "error" not in body:
            raise TokenRequestRefused(
                f"{app_name}'s token endpoint refused the request (HTTP {status})",
                app=app_name,
                provider_status=status,
            )
        return response

    return hook


def _revoked_error(spec: OAuth2Spec, body: Mapping[str, Any]) -> str | None:
    """The first of the app's revoked-grant codes the body holds at one of its error fields."""
    for path in spec.revoked_error_fields:
        value = dig(body, path)
        if isinstance(value, str) and value in spec.revoked_errors:
            return value
    return None


def _said(body: Mapping[str, Any], masked: Masker) -> str:
    """The provider's own explanation of an error body, masked."""
    for key in ("error_description", "message"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return masked.text(value)[:MAX_MESSAGE]
    return ""


def classify(
    app_name: str, exc: OAuthError, masked: Masker, *, keyed: bool = False, proof: str = "secret"
) -> Exception:
    """Sort a refusal Authlib raised. ``keyed``: the request had no OAuth client, only the
    connection's signed assertion, so a client error is that key refused (the connection's
    credentials, not a project's OAuth client). ``proof``: what the client authenticated
    with (its secret, private key or certificate), named in the advice."""
    error = masked.text(str(exc.error or ""))[:MAX_MESSAGE]
    said = masked.text(str(exc.description or error))[:MAX_MESSAGE]
    if error in _CLIENT_ERRORS and keyed:
        return CredentialsRejected(
            f"{app_name} refused the key ({error}): {said}", app=app_name, error=error
        )
    if error in _CLIENT_ERRORS:
        return OAuthClientRejected(
            f"{app_name} refused the OAuth client ({error}): {said}; "
            f"check its client id and {proof}",
            error=error,
        )
    return TokenRequestRefused(
        f"{app_name} refused the token request ({error}): {said}", error=error
    )


def checked(body: Mapping[str, Any], sent_at: datetime, app_name: str) -> TokenResponse:
    token = {k: v for k, v in dict(body).items() if k != "expires_at"}
    if not isinstance(token.get("access_token"), str) or not token["access_token"]:
        # a success without a token is the provider misbehaving, not a refusal (which comes as
        # an error body): retry later rather than make people reconnect
        raise ProviderUnavailable(
            f"{app_name}'s token response has no access_token; try again later", app=app_name
        )
    return TokenResponse(body=token, sent_at=sent_at)

"""Revoking a grant at the provider when its connection is deleted (RFC 7009).

Best effort: the connection is gone whatever the provider answers. What revoking needs (the
token, its type hint, the OAuth client) is read before the delete, while the secret exists;
the request is retried when the provider is unavailable (503, a timeout), waiting on the
injected ``sleep`` (its ``Retry-After``, else 0.5 s doubling, at most ``MAX_WAIT``), and the
outcome is a typed ``Revocation`` the delete reports and audits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from gatekey.catalog.schema import App, AuthKind, AuthMethod, OAuth2Spec
from gatekey.domain.apply import template_values
from gatekey.errors import GatekeyError, ProviderUnavailable
from gatekey.oauth.client_assertions import fields_client
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.provider import ProviderClient
from gatekey.oauth.refresh import ClientSecrets
from gatekey.store.secret_reader import Details, SecretRow

ATTEMPTS = 3
MAX_WAIT = 5.0


@dataclass(frozen=True, slots=True)
class Revocation:
    """How revoking went: ``revoked``; ``failed`` after ``attempts`` (``code``: the last
    error's); or ``not_supported`` (the app has no revocation endpoint, nothing was sent)."""

    outcome: Literal["revoked", "failed", "not_supported"]
    attempts: int = 0
    code: str | None = None

    def detail(self) -> dict[str, Any]:
        """What the audit entry records (never the token)."""
        return {"attempts": self.attempts} | ({"code": self.code} if self.code else {})


NOT_SUPPORTED = Revocation("not_supported")


@dataclass(frozen=True, slots=True)
class RevocationRequest:
    """What revoking one grant needs; ``repr`` hides the token and the client."""

    spec: OAuth2Spec = field(repr=False)
    values: dict[str, str] = field(repr=False)
    client: ClientCredentials = field(repr=False)
    app_name: str
    token: str = field(repr=False)
    hint: Literal["refresh_token", "access_token"]


class Revoker:
    def __init__(
        self,
        provider: ProviderClient,
        client_secret: ClientSecrets,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = ATTEMPTS,
    ) -> None:
        self._provider = provider
        self._client_secret = client_secret
        self._sleep = sleep
        self._attempts = attempts

    def prepare(
        self,
        row: SecretRow,
        details: Details,
        app: App,
        method: AuthMethod,
        secret: dict[str, Any],
    ) -> RevocationRequest | Revocation | None:
        """Return what revoking the grant needs, ``NOT_SUPPORTED``, or None when there is
        nothing to revoke (not OAuth2, or its OAuth client is gone)."""
        spec = method.oauth2
        if spec is None:
            return None
        if not spec.revocation_url:
            return NOT_SUPPORTED
        try:
            if method.kind is AuthKind.OAUTH2_CLIENT_CREDENTIALS:
                client = fields_client(method, secret)
            elif details.oauth_client_id is not None:
                client = self._client_secret(row.project_id, details.oauth_client_id)
            else:
                return None
        except GatekeyError:
            return None
        hint: Literal["refresh_token", "access_token"] = (
            "refresh_token" if secret.get("refresh_token") else "access_token"
        )
        return RevocationRequest(
            spec,
            template_values(method, dict(row.config)),
            client,
            app.name,
            str(secret.get(hint) or ""),
            hint,
        )

    def revoke(self, request: RevocationRequest) -> Revocation:
        """Ask the provider to revoke the token, retrying while it is unavailable."""
        for attempt in range(1, self._attempts + 1):
            try:
                self._provider.revoke(
                    request.spec,
                    request.values,
                    request.client,
                    app_name=request.app_name,
                    token=request.token,
                    token_type_hint=request.hint,
                )
                return Revocation("revoked", attempt)
            except ProviderUnavailable as exc:
                if attempt == self._attempts:
                    return Revocation("failed", attempt, exc.code)
                self._sleep(min(exc.retry_after or 0.5 * 2 ** (attempt - 1), MAX_WAIT))
            except GatekeyError as exc:
                return Revocation("failed", attempt, exc.code)
        return Revocation("failed", self._attempts)

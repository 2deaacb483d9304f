"""Tokens the recipes beyond OAuth2 obtain unattended: one ``Minter`` per auth kind.

A minter turns a connection's long-lived credentials into a token that expires: a JWT signed
with its key (``signed_jwt``), an access token for an RFC 7523 assertion (``jwt_bearer``), a
GitHub App installation token (``github_app``), AWS temporary credentials from STS AssumeRole
(``aws_sigv4`` with a role), a login's session token (``two_step``). The refresher calls it
when the token falls due, holding the row's lease (once across processes); the credential
check calls it when the connection is created, so bad keys are refused before anything is
stored.

A minter answers a ``TokenResponse`` whose body has ``access_token`` and, when it knows the
lifetime, ``expires_in`` (seconds from ``sent_at``); any other value in it (AWS temporary keys
as ``aws_access_key_id``...) is sealed with the secret. It fails with the classes the refresher
acts on: ``CredentialsRejected`` (the provider refused the key: Inactive, invalid
credentials), ``GrantRevoked`` (``invalid_grant``, a deleted installation, a role that can no
longer be assumed: Inactive, revoked), ``TokenRequestRefused`` (any other refusal: Inactive,
refresh failed), ``ProviderUnavailable`` (5xx, 429, timeouts: retried, never Inactive) and
``InvalidFields`` naming the field (a key that is not one, of the wrong type for the
algorithm). Every message has the connection's secrets masked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gatekey.catalog.schema import App, AuthKind, AuthMethod
from gatekey.domain.apply import field_of, template_values
from gatekey.errors import InvalidInput
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.token_answers import TokenResponse


@dataclass(frozen=True)
class Mint:
    """What a minter is given: the connection's app and method, its sealed secret (the
    long-lived credentials, and the last token), its config, the scopes it holds, and the
    project's OAuth client for the app when the recipe uses one (a GitHub App's private key)."""

    app: App
    method: AuthMethod
    connection_id: str
    secret: Mapping[str, Any] = field(repr=False)
    config: Mapping[str, Any]
    scopes: Sequence[str] = ()
    client: ClientCredentials | None = None

    def values(self) -> dict[str, str]:
        """Template values: fields (and values unpacked from a JSON key), config, derived
        values, and the connection's id."""
        return template_values(
            self.method, {**self.secret, **self.config, "connection_id": self.connection_id}
        )

    def field_of(self) -> dict[str, str]:
        """Where the person entered each value, for error messages: ``fields.key_file`` for a
        service account's ``private_key`` unpacked from it (``domain.apply.field_of``)."""
        method = self.method
        names = {*method.fields.properties, *method.fields.unpacked, *method.derive}
        return {name: field_of(method, name) for name in names | set(method.config.properties)}


class Minter(Protocol):
    def mint(self, request: Mint) -> TokenResponse:
        """Obtain a new token for the connection (module docstring: what it answers)."""
        ...


class Minters:
    """The minter of each auth kind, chosen by the connection's method."""

    def __init__(self, by_kind: Mapping[AuthKind, Minter]) -> None:
        self._by_kind = dict(by_kind)

    def mint(self, request: Mint) -> TokenResponse:
        minter = self._by_kind.get(request.method.kind)
        if minter is None:
            raise InvalidInput(
                f"{request.app.name}: Gatekey cannot obtain tokens for auth kind "
                f"{request.method.kind}"
            )
        return minter.mint(request)

    def handles(self, kind: AuthKind) -> bool:
        return kind in self._by_kind

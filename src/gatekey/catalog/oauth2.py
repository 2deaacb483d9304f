"""An OAuth2 provider's endpoints and quirks (RFC 6749, RFC 7636, RFC 7009, RFC 9207), as data.

URLs may hold ``{placeholders}`` filled from the connection's config (Shopify's shop,
Zendesk's subdomain). Quirks are data here, read by small named hooks in ``gatekey.oauth``:

- ``token_request`` and ``revocation_request`` shape the calls to each endpoint on its own
  (Calendly wants the client secret in the revocation body although its token endpoint takes
  Basic; Notion's revocation wants JSON and a ``Notion-Version`` header);
- ``token_response_config`` keeps token-response values as config, nested ones by path;
- ``discovery`` asks the API, right after consent, for what the token response lacks (Xero's
  tenant id, Atlassian's cloud id) and keeps it as config for headers and the base URL;
- ``default_token_lifetime_seconds`` stands for ``expires_in`` when a provider sends none
  (Salesforce ties the lifetime to the org's session timeout);
- ``revoked_error_fields`` and ``response_scope_separator`` read the provider's own answers
  (HubSpot's legacy ``status``; GitHub's comma-separated granted scopes).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from gatekey.catalog.text import BodyPath, Headers, Params, PlainText

ClientAuth = Literal[
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "tls_client_auth",
    "self_signed_tls_client_auth",
]
_CONFIG_NAME = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EndpointShape(_Strict):
    """How one endpoint wants its requests: client authentication, body encoding, headers."""

    client_auth_method: ClientAuth | None = Field(
        default=None, description="overrides the spec's `client_auth_method` for this endpoint"
    )
    body: Literal["form", "json"] = "form"
    headers: Headers = Field(default_factory=dict)


class ClientAssertion(_Strict):
    """``private_key_jwt`` (RFC 7523 section 2.2): the client authenticates with a JWT signed
    by its private key (``iss`` and ``sub`` the client id, ``aud`` the token endpoint, a fresh
    ``jti``), with the certificate's ``x5t#S256`` thumbprint when the provider asks for it
    (Microsoft). For client credentials the method's fields hold the key and certificate; for
    the authorization-code grant the project's OAuth client secret is the PEM key."""

    algorithm: Literal["RS256", "PS256", "ES256", "RS384", "ES384", "RS512"] = "RS256"
    private_key: str = Field(default="private_key", pattern=_CONFIG_NAME)
    certificate: str | None = Field(default=None, pattern=_CONFIG_NAME)
    audience: PlainText | None = Field(
        default=None, description="the `aud` claim when not the token endpoint's URL"
    )
    lifetime_seconds: int = Field(default=300, ge=30, le=3600)


class ConfigFrom(_Strict):
    """A value of a JSON answer kept as connection config: ``name`` from ``path``."""

    name: str = Field(pattern=_CONFIG_NAME)
    path: BodyPath


def _config_from(value: Any) -> Any:
    """``instance_url`` is short for ``{name: instance_url, path: instance_url}``."""
    if isinstance(value, str):
        return {"name": value, "path": value}
    return value


ConfigValue = Annotated[ConfigFrom, BeforeValidator(_config_from)]


class Discovery(_Strict):
    """A request made once the grant is stored whose answer becomes config.

    Xero: ``GET https://api.xero.com/connections`` answers the tenants the person chose, and
    ``0.tenantId`` becomes ``tenant_id``, sent as ``xero-tenant-id``. A value the connection's
    config already holds (the person picked a tenant) is kept, and must be among the answers.
    """

    url: PlainText
    headers: Headers = Field(default_factory=dict)
    config: list[ConfigValue] = Field(min_length=1)
    account_label: list[BodyPath] = Field(
        default_factory=list, description="paths naming the account (Xero `0.tenantName`)"
    )
    empty_message: str = Field(
        default="the provider lists nothing this grant may reach",
        description="what to tell the person when the answer holds no value",
    )


def _issuer_url(issuer: str) -> bool:
    """An https URL with no query or fragment (RFC 8414 section 2); plain http on loopback
    only, for local test servers."""
    parts = urlsplit(issuer)
    if parts.query or parts.fragment or not parts.hostname:
        return False
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    return parts.scheme == "https" or (parts.scheme == "http" and loopback)


class OAuth2Spec(_Strict):
    """Endpoints and quirks of an OAuth2 provider."""

    authorization_url: PlainText | None = Field(
        default=None, description="required for the authorization-code grant"
    )
    token_url: PlainText
    refresh_url: PlainText | None = Field(
        default=None, description="where refresh requests go, when not the token URL (Figma)"
    )
    revocation_url: PlainText | None = None
    issuer: str | None = Field(
        default=None,
        description="the provider's issuer identifier (RFC 9207): an `iss` on the callback must "
        "equal it exactly; without it, `iss` is only compared when the server's metadata names "
        "its issuer",
    )
    iss_required: bool = Field(
        default=True,
        description="with `issuer`: the provider puts `iss` on every redirect, so a callback "
        "without one is refused (RFC 9207 section 2.4)",
    )
    default_scopes: list[str] = Field(default_factory=list)
    scope_separator: str = " "
    response_scope_separator: str | None = Field(
        default=None,
        description="how the token response separates granted scopes when not as the request "
        "does (GitHub: `,`)",
    )
    scope_param: PlainText = Field(
        default="scope", min_length=1, description="Slack user scopes use `user_scope`"
    )
    extra_authorize_params: Params = Field(default_factory=dict)
    extra_token_params: Params = Field(default_factory=dict)
    client_auth_method: ClientAuth = "client_secret_basic"
    client_assertion: ClientAssertion | None = Field(
        default=None, description="how to sign the client's JWT for `private_key_jwt`"
    )
    token_request: EndpointShape = Field(default_factory=EndpointShape)
    revocation_request: EndpointShape = Field(default_factory=EndpointShape)
    pkce: bool = True
    token_response_config: list[ConfigValue] = Field(
        default_factory=list,
        description="token-response values kept as connection config (Salesforce instance_url; "
        "`{name: team_id, path: team.id}` for a nested one)",
    )
    callback_config: list[str] = Field(
        default_factory=list,
        description="callback query parameters kept as connection config (QuickBooks realmId)",
    )
    discovery: list[Discovery] = Field(default_factory=list)
    account_label: list[str] = Field(
        default_factory=list,
        description="dotted paths into the token response naming the account (Slack team.name); "
        "the method's test request is asked when none gives a value",
    )
    revoked_errors: list[str] = Field(
        default_factory=lambda: ["invalid_grant"],
        description="token-endpoint error codes that mean the grant is gone",
    )
    revoked_error_fields: list[BodyPath] = Field(
        default_factory=lambda: ["error"],
        description="where in a token-endpoint error body those codes may be (HubSpot `status`)",
    )
    expired_token_status: list[int] = Field(default_factory=lambda: [401])
    default_token_lifetime_seconds: int | None = Field(
        default=None,
        ge=60,
        le=366 * 86400,
        description="how long an access token lasts when the token response has no `expires_in`",
    )
    refresh_margin_seconds: int = Field(default=300, ge=0, le=3600)
    idle_refresh_days: int | None = Field(
        default=None,
        ge=1,
        description="refresh grants unused this long, before the provider expires them",
    )

    @model_validator(mode="after")
    def _consistent(self) -> OAuth2Spec:
        if not self.issuer and not self.iss_required:
            raise ValueError("iss_required: false only means something with an issuer")
        if self.issuer is not None and not _issuer_url(self.issuer):
            raise ValueError("issuer: an issuer identifier is an https URL (RFC 8414)")
        jwt_auth = "private_key_jwt" in (
            self.client_auth_method,
            self.token_request.client_auth_method,
        )
        if jwt_auth != (self.client_assertion is not None):
            raise ValueError("private_key_jwt and client_assertion go together")
        if self.revocation_request != EndpointShape() and not self.revocation_url:
            raise ValueError("revocation_request needs a revocation_url")
        names = [c.name for c in self.token_response_config]
        names += self.callback_config
        names += [c.name for d in self.discovery for c in d.config]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"config names learned twice: {repeated}")
        return self

    @property
    def token_config_paths(self) -> dict[str, str]:
        """Config name to token-response path, for ``domain.tokens.merge``."""
        return {c.name: c.path for c in self.token_response_config}

    @property
    def tls_client_auth(self) -> bool:
        """Whether the token endpoint authenticates the client by its certificate (RFC 8705)."""
        method = self.token_request.client_auth_method or self.client_auth_method
        return method in ("tls_client_auth", "self_signed_tls_client_auth")

    @property
    def learned_names(self) -> set[str]:
        """Config names the grant brings: token response, callback and discovery."""
        return {
            *(c.name for c in self.token_response_config),
            *self.callback_config,
            *(c.name for d in self.discovery for c in d.config),
        }

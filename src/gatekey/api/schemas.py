"""Request bodies of the HTTP API (responses are the models in ``gatekey.models``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from gatekey.domain.connection import Role

SKIP_TEST = (
    "store the credentials without asking the provider to check them (offline, or a provider "
    "that cannot be reached); Test checks them later"
)
"""``skip_test``: the one name for it in the API, both SDKs and the CLI (``--skip-test``)."""


class _Body(BaseModel):
    """A request body: unknown fields and non-finite numbers are refused (NUL characters and
    NaN inside free-form dicts are refused before parsing, by ``gatekey.api.inputs``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ConnectionCreate(_Body):
    app: str = Field(max_length=64, examples=["sendgrid"])
    name: str = Field(max_length=1000, examples=["SendGrid - Production"])
    auth_kind: str | None = Field(default=None, description="defaults to the app's first")
    fields: dict[str, Any] = Field(default_factory=dict, description="credential fields")
    config: dict[str, Any] = Field(default_factory=dict, description="non-secret settings")
    metadata: dict[str, Any] = Field(default_factory=dict)
    is_default: bool | None = None
    skip_test: bool = Field(default=False, description=SKIP_TEST)
    scopes: list[str] | None = Field(
        default=None,
        max_length=100,
        description="instead of the method's default scopes, for kinds that ask for scopes as "
        "they obtain a token (a service account's jwt_bearer, client credentials)",
    )


class ConnectionUpdate(_Body):
    name: str | None = Field(default=None, max_length=1000)
    is_default: bool | None = None
    metadata: dict[str, Any] | None = None
    fields: dict[str, Any] | None = Field(
        default=None, description="replace the credentials (validated like a new connection)"
    )
    config: dict[str, Any] | None = None
    skip_test: bool = Field(default=False, description=f"with ``fields``: {SKIP_TEST}")


class ApiKeyCreate(_Body):
    name: str = Field(max_length=1000)
    role: Role = Role.RUNTIME
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class Me(BaseModel):
    project_id: str
    key_id: str
    role: Role


class CredentialsRequest(_Body):
    stale_token: SecretStr | None = Field(
        default=None,
        description="the access token the app just refused as expired: refresh unless done",
    )
    required_scopes: list[str] = Field(
        default_factory=list, description="fail with missing_scopes unless all were granted"
    )


class OAuthClientCreate(_Body):
    app: str = Field(max_length=64, examples=["gmail"])
    client_id: str = Field(max_length=500)
    client_secret: SecretStr = Field(
        max_length=16384, description="the secret, or a GitHub App's PEM private key"
    )
    scopes: list[str] | None = Field(default=None, description="replaces the app's default scopes")


class OAuthClientUpdate(_Body):
    client_id: str | None = Field(default=None, max_length=500)
    client_secret: SecretStr | None = Field(default=None, max_length=16384)
    scopes: list[str] | None = Field(default=None, description="null goes back to the defaults")


class AuthorizationStart(_Body):
    app: str | None = Field(default=None, max_length=64, examples=["gmail"])
    name: str | None = Field(default=None, max_length=1000, examples=["Gmail - Support"])
    connection_id: str | None = Field(
        default=None, max_length=64, description="reconnect this connection (same id)"
    )
    scopes: list[str] | None = None
    config: dict[str, Any] | None = Field(default=None, description="e.g. a Shopify shop")
    metadata: dict[str, Any] | None = None
    is_default: bool | None = None
    allow_account_switch: bool = Field(
        default=False, description="a reconnect may come back as another account (audited)"
    )


class FlowCreate(_Body):
    name: str = Field(max_length=1000, examples=["Welcome email"])
    description: str = Field(default="", max_length=2000)
    definition: dict[str, Any] = Field(
        description='{"steps": [{"id", "app", "connection": "conn_..." or "default", "type": '
        '"http" or "python", "http": {...} or "python": {"callable": "pkg.mod:fn"}}]}'
    )


class FlowUpdate(_Body):
    name: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=2000)
    definition: dict[str, Any] | None = None


class ReplaceBody(_Body):
    replacement: str = Field(max_length=64, description="the connection to use instead")


class WebhookCreate(_Body):
    url: str = Field(max_length=2000, description="where events are POSTed (http or https)")
    events: list[str] | None = Field(
        default=None,
        description="connection.created, .inactive, .recovered, .reconnected, .deleted, or '*'",
    )
    description: str = Field(default="", max_length=200)


class NextStep(BaseModel):
    """What to do next about an error: ``action`` is stable; ``request`` (an API call) or
    ``command`` (the operator's, on the command line) takes it, or another member says how
    (``api.problems.NEXT_STEP``)."""

    model_config = ConfigDict(extra="allow")

    action: str
    params: dict[str, str] = Field(default_factory=dict)
    request: str | None = None
    command: str | None = None


class Problem(BaseModel):
    """An error (RFC 9457): ``code`` is stable; some codes add fields (``errors``, ``retry_after``,
    ``flows``, ``missing``...)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    code: str
    detail: str
    next: NextStep | None = None

"""The values the service returns and every adapter shows: API bodies, SDK results, CLI rows.

Only ``Credentials`` and ``CreatedApiKey`` ever hold a secret; their ``repr`` hides it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gatekey.admin_records import (
    ApiKey,
    AuditBreak,
    AuditEvent,
    AuditVerification,
    CreatedApiKey,
    CreatedWebhook,
    MasterKeyInfo,
    Project,
    Readiness,
    RotationProgress,
    Webhook,
    WebhookDelivery,
)
from gatekey.catalog.schema import App, AuthKind
from gatekey.domain.bodies import BodyRule
from gatekey.domain.connection import Reason, Status
from gatekey.signing import AwsSigning, ClientTls, OAuth1Signing, Signing

__all__ = [
    "ApiKey",
    "AppCategory",
    "AppSummary",
    "AuditBreak",
    "AuditEvent",
    "AuditVerification",
    "AuthorizationSession",
    "AwsSigning",
    "BasicAuth",
    "Connection",
    "ConnectionPage",
    "ConnectionUsage",
    "ConnectionWarning",
    "CreatedApiKey",
    "CreatedWebhook",
    "Credentials",
    "Deleted",
    "Diagnosis",
    "Flow",
    "FlowStepRef",
    "FlowUse",
    "ImportResult",
    "MasterKeyInfo",
    "OAuth1Signing",
    "OAuthClient",
    "Project",
    "Readiness",
    "RotationProgress",
    "Run",
    "RunStep",
    "Signing",
    "TestResult",
    "Webhook",
    "WebhookDelivery",
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class AppSummary(_Model):
    key: str
    name: str
    description: str
    categories: list[str]
    docs_url: str
    auth_kinds: list[AuthKind]
    builtin: bool
    source: Literal["builtin", "directory", "project"] = "builtin"
    """``builtin`` ships with Gatekey, ``directory`` comes from GATEKEY_APPS_DIR, ``project`` was
    added to this project through the API."""
    problem: str | None = None
    """Set when a project app stored under older checks is refused now: what to fix. It cannot
    be used (``get_app`` and connections on it fail) until its definition is replaced."""

    @classmethod
    def of(
        cls, app: App, source: Literal["builtin", "directory", "project"] = "builtin"
    ) -> AppSummary:
        return cls(
            key=app.key,
            name=app.name,
            description=app.description,
            categories=app.categories,
            docs_url=str(app.docs_url),
            auth_kinds=[m.kind for m in app.auth],
            builtin=app.builtin,
            source=source,
        )


class AppCategory(_Model):
    """A category apps are filed under, and how many of the project's apps are."""

    category: str
    count: int


class ConnectionWarning(_Model):
    """Something about a connection to act on before its credentials stop working."""

    code: str = Field(
        description="method_deprecated (the provider is retiring the auth method), "
        "idle_expiry (the provider deactivates credentials left unused: this one soon)"
    )
    message: str
    at: datetime | None = Field(
        default=None, description="idle_expiry: when the provider deactivates the credentials"
    )
    sunset: date | None = Field(
        default=None, description="method_deprecated: when the method stops working"
    )
    use_instead: AuthKind | None = Field(
        default=None, description="method_deprecated: the auth kind to connect with instead"
    )
    source: str | None = Field(default=None, description="the provider's announcement")


class Connection(_Model):
    """A connection as people see it: never a secret, at most a masked hint."""

    id: str
    project_id: str
    app: str
    auth_kind: AuthKind
    name: str
    status: Status
    status_reason: Reason | None = None
    status_message: str | None = None
    is_default: bool
    account_label: str | None = None
    scopes: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    fields: dict[str, Any] = Field(
        default_factory=dict, description="non-secret fields, and secret ones masked"
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    expires_at: datetime | None = None
    last_refreshed_at: datetime | None = None
    last_used_at: datetime | None = None
    oauth_client_id: str | None = None
    flows: int = Field(default=0, description="how many flows use it (by id or as default)")
    last_error: str | None = None
    last_error_at: datetime | None = None
    verified_at: datetime | None = Field(
        default=None,
        description=(
            "when the provider last accepted these credentials (a passing test, an OAuth2 "
            "token exchange or refresh); null: not verified since they were saved, e.g. "
            "saved without checking, imported, or the app has no test request"
        ),
    )
    version: int
    created_at: datetime
    updated_at: datetime
    warnings: list[ConnectionWarning] = Field(
        default_factory=list, description="what to act on before the credentials stop working"
    )


class ConnectionPage(_Model):
    items: list[Connection]
    next_cursor: str | None = None


class Deleted(_Model):
    id: str
    was_default: bool
    message: str
    provider_revocation: Literal["revoked", "failed", "not_supported"] | None = Field(
        default=None,
        description="OAuth2: whether the grant was revoked at the provider too (RFC 7009)",
    )


class BasicAuth(_Model):
    username: str
    password: str

    def __repr__(self) -> str:
        return "BasicAuth(***)"


class Credentials(_Model):
    """What an execution needs to call the app; the only model that carries secrets."""

    connection_id: str
    app: str
    auth_kind: AuthKind
    fields: dict[str, Any]
    config: dict[str, Any]
    base_url: str
    headers: dict[str, str]
    query: dict[str, str]
    basic: BasicAuth | None = None
    expires_at: datetime | None = None
    token_type: str | None = None
    expired_token_status: list[int] = Field(
        default_factory=list,
        description="OAuth2: statuses meaning an expired token; refresh and retry once",
    )
    expired_when: BodyRule | None = Field(
        None,
        description="OAuth2: a JSON body meaning an expired token whatever the status (Slack: "
        '200 {"ok": false, "error": "token_expired"}); resolve with stale_token, retry once',
    )
    ok_when: BodyRule | None = Field(
        None, description='a 2xx JSON body failing this is a failure (Slack: {"ok": false})'
    )
    error_paths: list[str] = Field(
        default_factory=list, description="dotted paths to the provider's error text"
    )
    overridable_headers: list[str] = Field(
        default_factory=list,
        description="`headers` a caller may replace with its own (Notion-Version); never others",
    )
    signing: Signing | None = Field(
        None,
        description="OAuth 1.0a and AWS SigV4: sign every request with these "
        "(`gatekey.signers`); the proxy does",
    )
    client_certificate: ClientTls | None = Field(
        None,
        description="mutual TLS: the client certificate and key to present to the app "
        "(`gatekey.signers.tls_context`); the proxy does",
    )

    def __repr__(self) -> str:
        return f"Credentials(connection_id={self.connection_id!r}, app={self.app!r})"

    __str__ = __repr__

    @classmethod
    def trusted(cls, values: dict[str, Any]) -> Credentials:
        """Build from values that were validated when stored, every field given: what
        ``model_construct`` does without its per-field default handling (the resolution hot
        path builds one per workflow step; a test pins the result to ``model_construct``'s).
        ``values`` becomes the model's own dict: pass a fresh one."""
        if values.keys() != _CREDENTIAL_FIELDS:
            raise TypeError(f"Credentials.trusted needs exactly {sorted(_CREDENTIAL_FIELDS)}")
        built = object.__new__(cls)
        _set = object.__setattr__
        _set(built, "__dict__", values)
        _set(built, "__pydantic_fields_set__", _CREDENTIAL_FIELDS)
        _set(built, "__pydantic_extra__", None)
        _set(built, "__pydantic_private__", None)
        return built


_CREDENTIAL_FIELDS = frozenset(Credentials.model_fields)


class TestResult(_Model):
    ok: bool
    account_label: str | None = None
    message: str


class OAuthClient(_Model):
    """An OAuth client registered for an app in a project; the secret is never returned."""

    id: str
    project_id: str
    app: str
    client_id: str
    scopes: list[str] | None = None
    connections: int = 0
    created_at: datetime
    updated_at: datetime


class AuthorizationSession(_Model):
    """One run of the authorization-code flow, from ``authorize_url`` to its outcome."""

    id: str
    app: str
    status: Literal["pending", "succeeded", "failed"]
    authorize_url: str | None = None
    connection_id: str | None = None
    reconnect: bool = False
    allow_account_switch: bool = Field(
        default=False,
        description="a reconnect that may come back as another account (audited when it does)",
    )
    error_code: str | None = None
    error_message: str | None = None
    expires_at: datetime
    created_at: datetime


class FlowStepRef(_Model):
    step_id: str
    app: str
    connection_id: str | None = Field(description="None: the project's default for the app")


class Flow(_Model):
    id: str
    project_id: str
    name: str
    description: str
    definition: dict[str, Any]
    connections: list[FlowStepRef]
    has_webhook: bool = False
    version: int
    created_at: datetime
    updated_at: datetime


class FlowUse(_Model):
    flow_id: str
    flow_name: str
    steps: list[str]
    by_default: bool = Field(description="the steps name the app's default connection")


class ConnectionUsage(_Model):
    connection_id: str
    flows: list[FlowUse]


class RunStep(_Model):
    step_id: str
    connection_id: str | None = None
    status: Literal["pending", "running", "succeeded", "failed", "skipped"] = Field(
        description="skipped: the run ended failed before reaching it"
    )
    output: Any = None
    error_code: str | None = None
    error_message: str | None = None
    duration_ms: int | None = None
    logs: str | None = Field(
        default=None, description="what a python step printed, capped, secrets masked"
    )


class Run(_Model):
    """One execution of a flow; step outputs have every secret value masked."""

    id: str
    flow_id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    trigger: str
    input: dict[str, Any]
    error_code: str | None = None
    error_message: str | None = None
    failed_step: str | None = None
    failed_connection_id: str | None = None
    retry_of: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    steps: list[RunStep]


class Diagnosis(_Model):
    """Whether a connection can serve a caller that needs ``required_scopes``, and why not."""

    connection_id: str
    ok: bool
    status: Status
    status_reason: Reason | None = None
    status_message: str | None = None
    granted_scopes: list[str]
    missing_scopes: list[str]
    expires_at: datetime | None = None
    last_error: str | None = None


class ImportResult(_Model):
    created: list[str]
    skipped: list[dict[str, str]] = Field(
        description="entries not imported, with the code and message saying why"
    )

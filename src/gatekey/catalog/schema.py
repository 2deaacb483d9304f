"""The schema every app definition (``catalog/apps/<key>.yaml``) is validated against.

An app is data: how to ask a person for credentials (a small JSON-schema whose properties may be
marked ``secret: true``), how those credentials are applied to a request, where the API lives,
how to check the credentials and learn which account they belong to, and, for OAuth2, the
provider's endpoints and quirks.

Definitions come from operators' files and from project admins (``POST /api/v1/apps``), so what
they hold is checked here, where a refusal names the field: patterns must be ones RE2 runs in
linear time (``gatekey.domain.patterns``), and header names, header values, URLs and extra
parameters may not hold CR, LF or other control characters (``gatekey.domain.headers``).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    field_validator,
    model_validator,
)

from gatekey.domain import headers
from gatekey.domain.patterns import compile_pattern
from gatekey.domain.templates import placeholders

KEY_PATTERN = r"^[a-z][a-z0-9_-]{1,62}$"

#: A header-name template: the text around its ``{placeholders}`` is an RFC 9110 token.
HeaderNameTemplate = Annotated[str, AfterValidator(headers.check_name_template)]
#: A header-value template: the text around its ``{placeholders}`` is visible ASCII.
HeaderValueTemplate = Annotated[str, AfterValidator(headers.check_value_template)]
#: A URL template, a query or form parameter: no CR, LF or other control character.
PlainText = Annotated[str, AfterValidator(headers.check_no_control)]


def _check_params(params: dict[str, str]) -> dict[str, str]:
    for name, value in params.items():
        try:
            if not name:
                raise ValueError("a parameter name may not be empty")
            headers.check_no_control(name)
            headers.check_no_control(value)
        except ValueError as exc:
            raise ValueError(f"parameter {name!r}: {exc}") from None
    return params


def _check_headers(fields: dict[str, str]) -> dict[str, str]:
    for name, value in fields.items():
        try:
            headers.check_name(name)
            headers.check_value(value)
        except ValueError as exc:
            raise ValueError(f"header {name!r}: {exc}") from None
    return fields


Params = Annotated[dict[str, str], AfterValidator(_check_params)]


class AuthKind(StrEnum):
    OAUTH2 = "oauth2"
    OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials"
    API_KEY = "api_key"
    BASIC = "basic"
    CUSTOM = "custom"
    NONE = "none"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """One credential or config field, a subset of JSON-schema plus ``secret``."""

    type: Literal["string", "integer", "boolean"] = "string"
    title: str
    description: str | None = None
    secret: bool = False
    format: Literal["uri", "email"] | None = None
    pattern: str | None = None
    enum: list[str] | None = None
    min_length: int | None = Field(default=None, alias="minLength", ge=0)
    max_length: int | None = Field(default=None, alias="maxLength", ge=1)
    default: str | int | bool | None = None
    placeholder: str | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_runs_on_re2(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            compile_pattern(pattern)
        return pattern


class FieldsSchema(_Strict):
    """``{"type": "object", "properties": {...}, "required": [...]}``; extra fields are refused."""

    type: Literal["object"] = "object"
    properties: dict[str, FieldSpec] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _required_exist(self) -> FieldsSchema:
        unknown = set(self.required) - set(self.properties)
        if unknown:
            raise ValueError(f"required names unknown properties: {sorted(unknown)}")
        for name in self.properties:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"property name {name!r} must be snake_case")
        return self

    @property
    def secret_names(self) -> frozenset[str]:
        return frozenset(n for n, f in self.properties.items() if f.secret)


class BearerRule(_Strict):
    """``Authorization: Bearer <value>``."""

    type: Literal["bearer"]
    value: HeaderValueTemplate


class HeaderRule(_Strict):
    """A named header; the prefix, if any, is part of the value template."""

    type: Literal["header"]
    name: HeaderNameTemplate
    value: HeaderValueTemplate


class QueryRule(_Strict):
    type: Literal["query"]
    name: PlainText = Field(min_length=1)
    value: PlainText


class BasicRule(_Strict):
    """HTTP basic authentication (RFC 7617)."""

    type: Literal["basic"]
    username: str
    password: str


ApplyRule = Annotated[BearerRule | HeaderRule | QueryRule | BasicRule, Field(discriminator="type")]


class Derivation(_Strict):
    """A value computed from a field by a regular expression's ``value`` group.

    Mailchimp keys end in ``-us6``; the data centre picks the API host.
    """

    source: str
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _runs_on_re2_with_a_value_group(cls, pattern: str) -> str:
        if "value" not in compile_pattern(pattern).group_names:
            raise ValueError("derivation pattern needs a (?P<value>...) group")
        return pattern


class TestRequest(_Strict):
    """A cheap request that proves the credentials work and names the account."""

    method: Literal["GET", "POST"] = "GET"
    path: PlainText
    headers: Annotated[dict[str, str], AfterValidator(_check_headers)] = Field(default_factory=dict)
    ok_status: list[int] = Field(default_factory=lambda: [200])
    account_label: list[str] = Field(
        default_factory=list, description="dotted paths into the JSON body; first non-empty wins"
    )
    error_message: list[str] = Field(
        default_factory=lambda: [
            "errors.0.message",
            "error.message",
            "error_description",
            "message",
            "error",
            "detail",
        ],
        description="dotted paths to the provider's error text",
    )


class OAuth2Spec(_Strict):
    """Endpoints and quirks of an OAuth2 provider (RFC 6749, RFC 7636, RFC 7009, RFC 9207).

    URLs may hold ``{placeholders}`` filled from the connection's config (Shopify's shop,
    Zendesk's subdomain). Quirks are data here, read by small named hooks in ``gatekey.oauth``.
    """

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
        description="the `iss` the provider puts on every redirect (RFC 9207); declaring it makes "
        "`iss` required on the callback",
    )
    default_scopes: list[str] = Field(default_factory=list)
    scope_separator: str = " "
    scope_param: PlainText = Field(
        default="scope", min_length=1, description="Slack user scopes use `user_scope`"
    )
    extra_authorize_params: Params = Field(default_factory=dict)
    extra_token_params: Params = Field(default_factory=dict)
    client_auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    pkce: bool = True
    token_response_config: list[str] = Field(
        default_factory=list,
        description="token-response fields kept as connection config (Salesforce instance_url)",
    )
    callback_config: list[str] = Field(
        default_factory=list,
        description="callback query parameters kept as connection config (QuickBooks realmId)",
    )
    account_label: list[str] = Field(
        default_factory=list,
        description="dotted paths into the token response naming the account (Slack team.name); "
        "the method's test request is asked when none gives a value",
    )
    revoked_errors: list[str] = Field(
        default_factory=lambda: ["invalid_grant"],
        description="token-endpoint error codes that mean the grant is gone",
    )
    expired_token_status: list[int] = Field(default_factory=lambda: [401])
    refresh_margin_seconds: int = Field(default=300, ge=0, le=3600)
    idle_refresh_days: int | None = Field(
        default=None,
        ge=1,
        description="refresh grants unused this long, before the provider expires them",
    )


class AuthMethod(_Strict):
    """One way to authenticate with an app; an app may offer several."""

    kind: AuthKind
    label: str | None = None
    fields: FieldsSchema = Field(default_factory=FieldsSchema)
    config: FieldsSchema = Field(
        default_factory=FieldsSchema, description="non-secret settings such as a subdomain"
    )
    apply: list[ApplyRule] = Field(default_factory=list)
    derive: dict[str, Derivation] = Field(default_factory=dict)
    base_url: PlainText | None = None
    test_request: TestRequest | None = None
    oauth2: OAuth2Spec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AuthMethod:
        oauth = self.kind in (AuthKind.OAUTH2, AuthKind.OAUTH2_CLIENT_CREDENTIALS)
        if oauth and self.oauth2 is None:
            raise ValueError(f"auth kind {self.kind} needs an oauth2 section")
        if not oauth and self.oauth2 is not None:
            raise ValueError(f"auth kind {self.kind} takes no oauth2 section")
        if self.kind in (AuthKind.API_KEY, AuthKind.BASIC, AuthKind.CUSTOM) and not self.apply:
            raise ValueError(f"auth kind {self.kind} must say how credentials are applied")
        if self.kind is AuthKind.OAUTH2 and self.oauth2 and not self.oauth2.authorization_url:
            raise ValueError("auth kind oauth2 needs oauth2.authorization_url")
        if self.kind is AuthKind.NONE and self.fields.properties:
            raise ValueError("auth kind none takes no credential fields")
        overlap = set(self.fields.properties) & set(self.config.properties)
        if overlap:
            raise ValueError(f"names used both as field and config: {sorted(overlap)}")
        return self


class App(_Strict):
    """A catalog entry."""

    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    categories: list[str] = Field(default_factory=list)
    docs_url: HttpUrl
    base_url: PlainText
    test_request: TestRequest | None = None
    auth: list[AuthMethod] = Field(min_length=1)
    builtin: bool = True

    @model_validator(mode="after")
    def _templates_resolve(self) -> App:
        kinds = [m.kind for m in self.auth]
        if len(kinds) != len(set(kinds)):
            raise ValueError("each auth kind may appear once per app")
        for method in self.auth:
            known = (
                set(method.fields.properties)
                | set(method.config.properties)
                | set(method.derive)
                | _oauth_names(method.oauth2)
            )
            templates = [method.base_url or self.base_url]
            for rule in method.apply:
                templates.extend(_rule_templates(rule))
            if method.oauth2 is not None:
                templates.append(method.oauth2.token_url)
                for url in (
                    method.oauth2.authorization_url,
                    method.oauth2.revocation_url,
                    method.oauth2.refresh_url,
                ):
                    if url:
                        templates.append(url)
            for template in templates:
                missing = placeholders(template) - known
                if missing:
                    raise ValueError(
                        f"{method.kind}: template {template!r} refers to unknown {sorted(missing)}"
                    )
            for name, derivation in method.derive.items():
                if derivation.source not in method.fields.properties | method.config.properties:
                    raise ValueError(f"derive.{name} reads unknown field {derivation.source!r}")
        return self

    def method(self, kind: AuthKind | str | None = None) -> AuthMethod:
        """Return the auth method of that kind, or the app's first (preferred) one."""
        if kind is None:
            return self.auth[0]
        for method in self.auth:
            if method.kind == kind:
                return method
        raise LookupError(kind)


def _oauth_names(spec: OAuth2Spec | None) -> set[str]:
    """Names an OAuth2 method's templates may use beyond its fields and config."""
    if spec is None:
        return set()
    return {"access_token", *spec.token_response_config, *spec.callback_config}


def _rule_templates(rule: BearerRule | HeaderRule | QueryRule | BasicRule) -> list[str]:
    if isinstance(rule, BasicRule):
        return [rule.username, rule.password]
    if isinstance(rule, BearerRule):
        return [rule.value]
    return [rule.name, rule.value]


def public_view(app: App) -> dict[str, Any]:
    """Return the app as JSON-ready data (catalog entries hold no secrets)."""
    return app.model_dump(mode="json", by_alias=True, exclude_none=True)

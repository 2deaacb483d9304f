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

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from gatekey.catalog.categories import Category
from gatekey.catalog.lifecycle import Deprecation
from gatekey.catalog.oauth2 import OAuth2Spec
from gatekey.catalog.provenance import Source, fact_names
from gatekey.catalog.responses import ResponseRules, TestRequest
from gatekey.catalog.setup import Setup
from gatekey.catalog.text import HeaderNameTemplate, HeaderValueTemplate, PlainText
from gatekey.domain.patterns import compile_pattern
from gatekey.domain.templates import placeholders

__all__ = [
    "KEY_PATTERN",
    "App",
    "AuthKind",
    "AuthMethod",
    "FieldSpec",
    "FieldsSchema",
    "OAuth2Spec",
    "TestRequest",
    "public_view",
]

KEY_PATTERN = r"^[a-z][a-z0-9_-]{1,62}$"
#: Keys no app may take: ``GET /api/v1/apps/categories`` lists the categories.
RESERVED_KEYS = frozenset({"categories"})
#: Headers a caller may never set in place of the app's own.
NEVER_OVERRIDDEN = frozenset({"authorization", "proxy-authorization", "cookie"})


class AuthKind(StrEnum):
    OAUTH2 = "oauth2"
    OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials"
    API_KEY = "api_key"
    BASIC = "basic"
    CUSTOM = "custom"
    NONE = "none"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Strict):
    """One offered value of a config field, with what people call it."""

    value: str = Field(min_length=1)
    title: str = Field(min_length=1)


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
    choices: list[Choice] | None = Field(
        default=None,
        min_length=1,
        description="values offered as a choice (environments, regions, tenants): the only "
        "ones taken, unless a `pattern` admits others (a tenant id besides `common`)",
    )

    @field_validator("pattern")
    @classmethod
    def _pattern_runs_on_re2(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            compile_pattern(pattern)
        return pattern

    @model_validator(mode="after")
    def _choices_fit(self) -> FieldSpec:
        if self.choices is None:
            return self
        if self.enum is not None:
            raise ValueError("choices and enum: give one of them")
        if self.type != "string" or self.secret:
            raise ValueError("choices are for non-secret string fields")
        values = [c.value for c in self.choices]
        if len(values) != len(set(values)):
            raise ValueError("choices: each value once")
        if self.pattern is not None:
            rule = compile_pattern(self.pattern)
            wrong = [v for v in values if not rule.matches(v)]
            if wrong:
                raise ValueError(f"choices {wrong} do not match the pattern")
        if self.default is not None and self.pattern is None and self.default not in values:
            raise ValueError("default: not one of the choices")
        return self


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
    overridable: bool = Field(
        default=False,
        description="a caller's own value wins (an API version header such as Notion-Version); "
        "never for a header built from a secret",
    )


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
    responses: ResponseRules = Field(default_factory=ResponseRules)
    oauth2: OAuth2Spec | None = None
    setup: Setup | None = None
    deprecated: Deprecation | None = None
    idle_expiry_days: int | None = Field(
        default=None,
        ge=2,
        le=3650,
        description="the provider deactivates a credential left unused this long (Zendesk API "
        "tokens: 30); OAuth2 grants say so with `oauth2.idle_refresh_days`",
    )

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
        if oauth and self.idle_expiry_days is not None:
            raise ValueError("idle_expiry_days: an OAuth2 grant uses oauth2.idle_refresh_days")
        secret = self.fields.secret_names | {"access_token"}
        for rule in self.apply:
            if isinstance(rule, HeaderRule) and rule.overridable:
                if rule.name.lower() in NEVER_OVERRIDDEN:
                    raise ValueError(f"apply: a caller may never override {rule.name}")
                if placeholders(rule.value) & secret:
                    raise ValueError(f"apply: {rule.name} is built from a secret, not overridable")
        return self


class App(_Strict):
    """A catalog entry."""

    key: str = Field(pattern=KEY_PATTERN)
    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    categories: list[Category] = Field(default_factory=list)
    docs_url: HttpUrl
    base_url: PlainText
    test_request: TestRequest | None = None
    auth: list[AuthMethod] = Field(min_length=1)
    sources: list[Source] = Field(
        default_factory=list, description="the documentation each fact was checked against"
    )
    builtin: bool = True

    @field_validator("key")
    @classmethod
    def _not_reserved(cls, key: str) -> str:
        if key in RESERVED_KEYS:
            raise ValueError(f"{key!r} is reserved (a listing of /api/v1/apps); pick another key")
        return key

    @model_validator(mode="after")
    def _templates_resolve(self) -> App:
        kinds = [m.kind for m in self.auth]
        if len(kinds) != len(set(kinds)):
            raise ValueError("each auth kind may appear once per app")
        known_facts = fact_names([str(k) for k in kinds], set(OAuth2Spec.model_fields))
        for number, source in enumerate(self.sources):
            unknown = sorted(set(source.facts) - known_facts)
            if unknown:
                raise ValueError(
                    f"sources.{number}.facts: unknown {unknown}; a fact is base_url or "
                    "<auth kind>.<field> (oauth2.token_url, api_key.apply)"
                )
        for method in self.auth:
            move = method.deprecated.use_instead if method.deprecated else None
            if move is not None and (move == method.kind or move not in kinds):
                raise ValueError(f"{method.kind}: deprecated.use_instead names no other method")
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
                for found in method.oauth2.discovery:
                    templates.extend([found.url, *found.headers.values()])
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
    return {"access_token", *spec.learned_names}


def _rule_templates(rule: BearerRule | HeaderRule | QueryRule | BasicRule) -> list[str]:
    if isinstance(rule, BasicRule):
        return [rule.username, rule.password]
    if isinstance(rule, BearerRule):
        return [rule.value]
    return [rule.name, rule.value]


def public_view(app: App) -> dict[str, Any]:
    """Return the app as JSON-ready data (catalog entries hold no secrets)."""
    return app.model_dump(mode="json", by_alias=True, exclude_none=True)

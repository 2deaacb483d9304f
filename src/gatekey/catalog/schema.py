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

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from gatekey.catalog.aws import AwsSpec
from gatekey.catalog.categories import Category
from gatekey.catalog.certificates import ClientCertificate
from gatekey.catalog.fields import Choice, FieldSpec, FieldsSchema
from gatekey.catalog.jwt import COMPUTED, BearerAssertion, SignedJwt
from gatekey.catalog.kinds import CONSENT, MINTED, OAUTH2_SECTION_KINDS, SECTION, SIGNED, AuthKind
from gatekey.catalog.lifecycle import Deprecation
from gatekey.catalog.logins import GitHubAppSpec, TwoStepSpec
from gatekey.catalog.minted import Lifecycle
from gatekey.catalog.oauth1 import OAuth1Spec
from gatekey.catalog.oauth2 import OAuth2Spec
from gatekey.catalog.provenance import Source, fact_names
from gatekey.catalog.responses import ResponseRules, TestRequest
from gatekey.catalog.rules import (
    ApplyRule,
    BasicRule,
    BearerRule,
    Derivation,
    HeaderRule,
    QueryRule,
)
from gatekey.catalog.setup import Setup
from gatekey.catalog.text import PlainText
from gatekey.domain.templates import placeholders

__all__ = [
    "CONSENT",
    "KEY_PATTERN",
    "MINTED",
    "SIGNED",
    "App",
    "ApplyRule",
    "AuthKind",
    "AuthMethod",
    "BasicRule",
    "BearerRule",
    "Choice",
    "Derivation",
    "FieldSpec",
    "FieldsSchema",
    "HeaderRule",
    "OAuth2Spec",
    "QueryRule",
    "TestRequest",
    "public_view",
]

KEY_PATTERN = r"^[a-z][a-z0-9_-]{1,62}$"
#: Keys no app may take: ``GET /api/v1/apps/categories`` lists the categories.
RESERVED_KEYS = frozenset({"categories"})
#: Headers a caller may never set in place of the app's own.
NEVER_OVERRIDDEN = frozenset({"authorization", "proxy-authorization", "cookie"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthMethod(_Strict):
    """One way to authenticate with an app; an app may offer several.

    The recipe kinds beyond API keys and OAuth2 each take their own section (``SECTION``):
    ``oauth1``, ``assertion`` (with ``oauth2`` for the token endpoint), ``signed_jwt``,
    ``github_app``, ``aws``, ``two_step``. A minted token is ``{access_token}`` in ``apply``.
    """

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
    oauth1: OAuth1Spec | None = None
    assertion: BearerAssertion | None = Field(
        default=None, description="jwt_bearer: the assertion traded at `oauth2.token_url`"
    )
    signed_jwt: SignedJwt | None = None
    github_app: GitHubAppSpec | None = None
    aws: AwsSpec | None = None
    two_step: TwoStepSpec | None = None
    client_certificate: ClientCertificate | None = Field(
        default=None, description="mutual TLS: fields holding the client certificate and key"
    )
    setup: Setup | None = None
    deprecated: Deprecation | None = None
    idle_expiry_days: int | None = Field(
        default=None,
        ge=2,
        le=3650,
        description="the provider deactivates a credential left unused this long (Zendesk API "
        "tokens: 30); OAuth2 grants say so with `oauth2.idle_refresh_days`",
    )

    @property
    def lifecycle(self) -> Lifecycle | None:
        """When this method's tokens expire and are renewed; None for kinds whose credentials
        never change by themselves (keys, basic, OAuth 1.0a)."""
        if self.oauth2 is not None:
            return self.oauth2
        if self.kind is AuthKind.SIGNED_JWT:
            return self.signed_jwt
        if self.kind is AuthKind.GITHUB_APP:
            return self.github_app
        if self.kind is AuthKind.TWO_STEP:
            return self.two_step
        if self.kind is AuthKind.AWS_SIGV4 and self.aws is not None:
            return self.aws.assume_role or self.aws
        return None

    @property
    def through_consent(self) -> bool:
        """Whether connections of this method are made through a consent or install screen
        with the project's OAuth client (OAuth2 authorization code, a GitHub App, three-legged
        OAuth 1.0a)."""
        three_legged = self.oauth1 is not None and self.oauth1.flow == "three_legged"
        return self.kind in CONSENT or three_legged

    @property
    def label_template(self) -> str | None:
        """The template naming the account from the connection's values, for the minted kinds
        whose token answer does not (a service account: `{client_email} as {subject}`)."""
        if self.assertion is not None:
            return self.assertion.account_label
        template = getattr(self.lifecycle, "account_label", None)
        return template if isinstance(template, str) else None

    def recipe_names(self) -> set[str]:
        """Names a recipe's templates may use beyond fields, config and derivations."""
        names = set(self.fields.unpacked) | _oauth_names(self.oauth2)
        if self.kind in MINTED or self.kind is AuthKind.GITHUB_APP:
            names.add("access_token")
        if self.kind in (AuthKind.JWT_BEARER, AuthKind.SIGNED_JWT, AuthKind.GITHUB_APP):
            names |= COMPUTED
        if self.github_app is not None:
            names |= set(self.github_app.callback_config) | {"client_id"}
        if self.oauth1 is not None:
            names |= set(self.oauth1.callback_config) | set(self.oauth1.token_response_config)
        if self.aws is not None:
            names.add("connection_id")
        return names

    def section_fields(self) -> set[str]:
        """The field names of this method's recipe sections: the facts a source may back
        beyond the method's own (``oauth2.token_url``, ``aws.service``)."""
        names: set[str] = set()
        for section in ("oauth2", *(set(SECTION.values()) - {"oauth2"})):
            spec = getattr(self, section)
            if spec is not None or (section == "oauth2" and self.kind in OAUTH2_SECTION_KINDS):
                model = type(spec) if spec is not None else OAuth2Spec
                names |= set(model.model_fields)
                names.add(section)
        return names

    def recipe_templates(self) -> list[str]:
        """Every template the recipe sections hold."""
        out: list[str] = []
        for jwt in (
            self.assertion,
            self.signed_jwt.jwt if self.signed_jwt else None,
            self.github_app.app_jwt if self.github_app else None,
        ):
            if jwt is not None:
                out.extend(jwt.templates())
        for section in (self.oauth1, self.aws, self.two_step):
            if section is not None:
                out.extend(section.templates())
        if self.github_app is not None:
            app = self.github_app
            out += [app.install_url, app.token_url, *app.token_headers.values()]
            out += [app.installation_url] if app.installation_url else []
        return out

    @model_validator(mode="after")
    def _consistent(self) -> AuthMethod:
        needed = SECTION.get(self.kind)
        for kind_section in set(SECTION.values()) - {"oauth2"}:
            given = getattr(self, kind_section) is not None
            if given and kind_section != needed:
                raise ValueError(f"auth kind {self.kind} takes no {kind_section} section")
        if needed is not None and getattr(self, needed) is None:
            article = "an" if needed[0] in "aeiou" else "a"
            raise ValueError(f"auth kind {self.kind} needs {article} {needed} section")
        oauth = self.kind in (
            AuthKind.OAUTH2,
            AuthKind.OAUTH2_CLIENT_CREDENTIALS,
            AuthKind.JWT_BEARER,
        )
        if self.kind is AuthKind.JWT_BEARER and self.oauth2 is None:
            raise ValueError("auth kind jwt_bearer needs an oauth2 section (its token_url)")
        values = {*self.fields.properties, *self.fields.unpacked}
        own_client = self.kind is AuthKind.JWT_BEARER and "client_secret" in values
        if own_client and "client_id" not in {*values, *self.config.properties}:
            raise ValueError("jwt_bearer: a client_secret field needs a client_id field or config")
        if not oauth and self.oauth2 is not None:
            raise ValueError(f"auth kind {self.kind} takes no oauth2 section")
        if self.kind in (AuthKind.SIGNED_JWT, AuthKind.TWO_STEP) and not self.apply:
            raise ValueError(f"auth kind {self.kind} must say how its token is applied")
        if self.kind in (AuthKind.API_KEY, AuthKind.BASIC, AuthKind.CUSTOM) and not self.apply:
            raise ValueError(f"auth kind {self.kind} must say how credentials are applied")
        if self.kind is AuthKind.OAUTH2 and self.oauth2 and not self.oauth2.authorization_url:
            raise ValueError("auth kind oauth2 needs oauth2.authorization_url")
        if self.kind is AuthKind.NONE and self.fields.properties:
            raise ValueError("auth kind none takes no credential fields")
        overlap = set(self.fields.properties) & set(self.config.properties)
        if overlap:
            raise ValueError(f"names used both as field and config: {sorted(overlap)}")
        self._keys_named()
        if oauth and self.idle_expiry_days is not None:
            raise ValueError("idle_expiry_days: an OAuth2 grant uses oauth2.idle_refresh_days")
        secret = self.fields.secret_names | {"access_token"}
        if self.client_certificate is not None:
            cert = self.client_certificate
            for name in (cert.certificate, cert.private_key):
                if name not in self.fields.properties:
                    raise ValueError(f"client_certificate: no field {name!r}")
        if self.oauth2 is not None and self.oauth2.tls_client_auth:
            self._tls_client_auth()
        for rule in self.apply:
            if isinstance(rule, HeaderRule) and rule.overridable:
                if rule.name.lower() in NEVER_OVERRIDDEN:
                    raise ValueError(f"apply: a caller may never override {rule.name}")
                if placeholders(rule.value) & secret:
                    raise ValueError(f"apply: {rule.name} is built from a secret, not overridable")
        return self

    def _tls_client_auth(self) -> None:
        """RFC 8705 client authentication needs the certificate on token requests, which
        only the kinds whose fields hold it can present."""
        if self.kind not in (AuthKind.OAUTH2_CLIENT_CREDENTIALS, AuthKind.JWT_BEARER):
            raise ValueError(
                f"auth kind {self.kind}: tls_client_auth takes the certificate from the "
                "connection's fields (oauth2_client_credentials, jwt_bearer)"
            )
        if self.client_certificate is None or not self.client_certificate.token_requests:
            raise ValueError("tls_client_auth needs a client_certificate for token requests")

    def _keys_named(self) -> None:
        """Every field a recipe names as its key, certificate or token is one of the method's
        (or a value unpacked from its JSON key file, or derived from a field)."""
        known = {
            *self.fields.properties,
            *self.fields.unpacked,
            *self.config.properties,
            *self.derive,
        }
        named: set[str] = set()
        for jwt in (self.assertion, self.signed_jwt.jwt if self.signed_jwt else None):
            if jwt is not None:
                named |= jwt.names()
        if self.oauth1 is not None and self.oauth1.flow == "token":
            named |= set(self.oauth1.fields.names())
        if self.aws is not None:
            named |= {self.aws.access_key_id, self.aws.secret_access_key}
            role = self.aws.assume_role
            if role is not None:
                named |= {role.role_arn, *([role.external_id] if role.external_id else [])}
        spec = self.oauth2.client_assertion if self.oauth2 is not None else None
        if spec is not None and self.kind is AuthKind.OAUTH2_CLIENT_CREDENTIALS:
            named |= {spec.private_key, *([spec.certificate] if spec.certificate else [])}
        unknown = sorted(named - known)
        if unknown:
            raise ValueError(f"{self.kind}: the recipe names unknown fields {unknown}")


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
        known_facts = fact_names({str(m.kind): m.section_fields() for m in self.auth})
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
                | method.recipe_names()
            )
            templates = [method.base_url or self.base_url, *method.recipe_templates()]
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

"""What a new set of credentials goes through before it is sealed: the app's field and config
rules, the first token of a client-credentials grant (RFC 6749 section 4.4) and the app's test
request at the provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gatekey.catalog.schema import CONSENT, MINTED, App, AuthKind, AuthMethod
from gatekey.domain import fields as field_rules
from gatekey.domain import masking, tokens
from gatekey.domain.apply import apply, template_values
from gatekey.domain.signing import client_tls_of, signing_of
from gatekey.domain.templates import can_render, render
from gatekey.errors import Hint, InvalidFields, InvalidInput, ProviderUnavailable
from gatekey.metrics import Metrics
from gatekey.oauth.client_assertions import fields_client, token_identity
from gatekey.oauth.minting import Mint, Minters
from gatekey.oauth.provider import ProviderClient
from gatekey.probe import Prober
from gatekey.service.credentials import Opened
from gatekey.service.oauth_clients import parse_scopes
from gatekey.signers import signature, tls
from gatekey.signing import ClientTls, signing_from


@dataclass(frozen=True)
class Prepared:
    """Validated credentials ready to seal; ``columns`` are token columns (client credentials)."""

    secret: dict[str, Any] = field(repr=False)
    public: dict[str, Any]
    config: dict[str, Any]
    label: str | None
    columns: dict[str, Any] = field(default_factory=dict, repr=False)
    verified: bool = False
    """The provider accepted them on the way: the test request passed, or it issued the
    client-credentials token."""


def needs_consent(method: AuthMethod) -> bool:
    """Whether connections of this method are made through a consent or install screen."""
    return method.through_consent


def has_test_request(app: App, method: AuthMethod) -> bool:
    """Whether the app has a request that checks these credentials at the provider."""
    return (method.test_request or app.test_request) is not None


class CredentialCheck:
    """Validates credentials for a connection being created, replaced or imported."""

    def __init__(
        self,
        prober: Prober,
        provider: ProviderClient,
        metrics: Metrics,
        minters: Minters | None = None,
    ) -> None:
        self.prober = prober
        self.provider = provider
        self.metrics = metrics
        self.minters = minters or Minters({})

    def prepare(
        self,
        app: App,
        method: AuthMethod,
        values: Any,
        config: Any,
        validate: bool,
        *,
        connection_id: str = "",
        scopes: Any = None,
    ) -> Prepared:
        """Validate fields and config, obtain the first token of a kind that mints one (client
        credentials, an assertion, a signed JWT, a login, an assumed role), run the test
        request. ``scopes`` replace the default scopes of the kinds that ask for some when
        they obtain a token (``jwt_bearer``, client credentials)."""
        if needs_consent(method):
            raise InvalidInput(
                f"{app.name} connects through its consent screen: start an authorization",
                hint=Hint("start_authorization", {"app": app.key}),
            )
        asked = _asked_scopes(app, method, scopes)
        cleaned = field_rules.validate(method.fields, values, what="fields")
        cleaned_config = field_rules.validate(method.config, config, what="config")
        _check_certificate(method, cleaned)
        public, secret = field_rules.split(method.fields, cleaned)
        extra: dict[str, Any] = {}
        handed = {**cleaned, **cleaned_config}
        if method.kind is AuthKind.OAUTH2_CLIENT_CREDENTIALS:
            secret, extra = self._client_credentials_token(
                app, method, cleaned, cleaned_config, asked
            )
            cleaned_config = {**cleaned_config, **extra.pop("config")}
            handed = {**secret, **cleaned_config}
        elif self._mints(method, cleaned_config):
            secret, extra = self._first_token(
                Mint(app, method, connection_id, cleaned, cleaned_config, asked)
            )
            cleaned_config = {**cleaned_config, **extra.pop("config")}
            handed = {**secret, **cleaned_config}
        try:
            label = self.probe(app, method, handed, secret) if validate else None
        except ProviderUnavailable as exc:
            raise ProviderUnavailable(
                f"{exc.message}, or save it without checking",
                hint=Hint("skip_test", {"app": app.key}),
                **exc.details,
            ) from None
        verified = bool(extra) or (validate and has_test_request(app, method))
        return Prepared(secret, public, cleaned_config, label, extra, verified)

    def probe(
        self, app: App, method: AuthMethod, values: dict[str, Any], secret: dict[str, Any]
    ) -> str | None:
        """Run the app's test request with ``values`` (fields and config); return the account
        label it found. ``CredentialsRejected`` when the provider refuses them; the secret's
        values are masked in anything the provider echoes."""
        filled = template_values(method, values)
        signing = signing_of(method, secret, filled, None)
        signer = signature(signing_from(signing)) if signing else None
        with self.metrics.provider_call(app.key, "test"):
            label = self.prober.check(
                app,
                method,
                apply(app, method, values),
                filled,
                masking.secret_values(secret, method.fields.secret_names),
                signer,
                _identity(method, values),
            )
        template = method.label_template
        if label is None and template is not None and can_render(template, filled):
            label = render(template, filled)
        return label

    @staticmethod
    def _mints(method: AuthMethod, config: dict[str, Any]) -> bool:
        """Whether the method obtains a token unattended for this config: every minted kind
        but AWS without a role (static keys sign as they are)."""
        if method.kind not in MINTED or method.kind is AuthKind.OAUTH2_CLIENT_CREDENTIALS:
            return False
        role = method.aws.assume_role if method.aws is not None else None
        return method.kind is not AuthKind.AWS_SIGV4 or (
            role is not None and bool(config.get(role.role_arn))
        )

    def _first_token(self, request: Mint) -> tuple[dict[str, Any], dict[str, Any]]:
        """The first token of a minted kind: sealed with the long-lived fields."""
        spec = request.method.lifecycle
        assert spec is not None
        with self.metrics.provider_call(request.app.key, "token"):
            response = self.minters.mint(request)
        secret, learned = tokens.merge(request.secret, response.body, spec.token_config_paths)
        extra: dict[str, Any] = {
            "expires_at": tokens.expires_at(
                response.body,
                response.sent_at,
                refetchable=True,
                default_lifetime=spec.default_token_lifetime_seconds,
            ),
            "last_refreshed_at": response.sent_at,
            "config": learned,
        }
        if request.method.oauth2 is not None:  # jwt_bearer: the scopes its assertion asked
            extra["scopes"] = tokens.granted_scopes(
                response.body,
                list(request.scopes) or request.method.oauth2.default_scopes,
                spec.scope_separator,
                spec.response_scope_separator,
            )
        return secret, extra

    def _client_credentials_token(
        self,
        app: App,
        method: AuthMethod,
        cleaned: dict[str, Any],
        config: dict[str, Any],
        asked: list[str],
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Fetch the first token of a client-credentials connection (RFC 6749 section 4.4)."""
        spec = method.oauth2
        assert spec is not None
        asked = asked or spec.default_scopes
        client = fields_client(method, cleaned)
        with self.metrics.provider_call(app.key, "token"):
            response = self.provider.client_credentials(
                spec,
                template_values(method, config),
                client,
                app_name=app.name,
                scopes=asked,
                identity=token_identity(method, cleaned),
            )
        secret, token_config = tokens.merge(cleaned, response.body, spec.token_config_paths)
        extra = {
            "expires_at": tokens.expires_at(
                response.body,
                response.sent_at,
                refetchable=True,
                default_lifetime=spec.default_token_lifetime_seconds,
            ),
            "last_refreshed_at": response.sent_at,
            "scopes": tokens.granted_scopes(
                response.body,
                asked,
                spec.scope_separator,
                spec.response_scope_separator,
            ),
            "config": token_config,
        }
        return secret, extra

    def replacement(
        self, opened: Opened, fields: Any, config: Any, validate: bool, now: datetime
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The column values and the secret that replace an opened connection's credentials:
        what is not given is kept (the stored secret, the config the method knows), and
        ``verified_at`` becomes ``now`` if the provider accepted them, else None."""
        row, details, entry, method, secret = opened
        if method.kind in MINTED and fields is None:  # the fields, not the last token
            secret = {k: v for k, v in secret.items() if k in method.fields.properties}
        known = method.config.properties
        prepared = self.prepare(
            entry,
            method,
            secret if fields is None else fields,
            {k: v for k, v in row.config.items() if k in known} if config is None else config,
            validate,
            connection_id=row.id,
        )
        values = {
            **prepared.columns,
            "public_fields": prepared.public,
            "config": prepared.config,
            "account_label": prepared.label if validate else details.account_label,
            "verified_at": now if prepared.verified else None,
        }
        return values, prepared.secret


def _identity(method: AuthMethod, values: Mapping[str, Any]) -> ClientTls | None:
    """The client certificate the test request presents (checked by ``_check_certificate``)."""
    pair = client_tls_of(method, values)
    return ClientTls(certificate=pair[0], private_key=pair[1]) if pair else None


def _check_certificate(method: AuthMethod, values: Mapping[str, Any]) -> None:
    """A client certificate that is not a certificate and the key it was issued for is
    refused naming the method's certificate field, before any request presents it."""
    spec = method.client_certificate
    if spec is None or not values.get(spec.certificate) or not values.get(spec.private_key):
        return
    identity = ClientTls(
        certificate=str(values[spec.certificate]), private_key=str(values[spec.private_key])
    )
    tls.context(identity, certificate_field=f"fields.{spec.certificate}")


def _asked_scopes(app: App, method: AuthMethod, scopes: Any) -> list[str]:
    """The scopes a new connection asks for instead of the method's defaults: only for the
    kinds that ask for scopes when they obtain a token; an empty list when none are given."""
    asked = parse_scopes(scopes)
    if asked is None:
        return []
    if method.kind not in (AuthKind.JWT_BEARER, AuthKind.OAUTH2_CLIENT_CREDENTIALS):
        raise InvalidFields(
            f"{app.name} ({method.kind.value}) takes no scopes when it is created"
            + (": its consent screen asks for them" if method.kind in CONSENT else ""),
            errors=[{"field": "scopes", "message": "not taken by this kind"}],
        )
    return asked

"""The person's return from an OAuth 1.0a consent (``oauth1``, three-legged): the verifier it
brings is traded for the token credentials (``oauth.oauth1_consent``), which become the grant.

The provider sends ``?oauth_token=..&oauth_verifier=..`` (RFC 5849 section 2.2), or X's
``?denied=..`` when the person declined. The session was found by its temporary token
(``service.oauth_callback``); the token traded is the one the session sealed, never the one in
the URL. The grant seals the consumer key and secret with the token credentials (every request
is signed with all four); the access-token answer's other values named by the recipe are kept
as config (X: ``user_id``, ``screen_name``) and name the account, else the app's test request
does, signed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatekey.catalog.schema import App, AuthMethod
from gatekey.domain import masking
from gatekey.domain.apply import template_values
from gatekey.domain.bodies import dig
from gatekey.errors import AccessDenied, GatekeyError, TokenExchangeFailed
from gatekey.oauth.clients import ClientSecrets
from gatekey.oauth.oauth1_consent import OAuth1Consent, Temporary
from gatekey.probe import Prober
from gatekey.service.context import Context
from gatekey.service.grants import Grant, tested_label
from gatekey.store import sealed
from gatekey.store.rows import OAuthSessionRow

MAX_VALUE = 300


def _printable(value: Any) -> str:
    return "".join(ch for ch in str(value) if ch.isprintable())[:MAX_VALUE]


class OAuth1Grants:
    """Turns a consent callback into a grant, through ``consent`` (the apps' client)."""

    def __init__(
        self, ctx: Context, client_secrets: ClientSecrets, prober: Prober, consent: OAuth1Consent
    ) -> None:
        self.ctx = ctx
        self.client_secrets = client_secrets
        self.prober = prober
        self.consent = consent

    def grant(
        self, entry: App, method: AuthMethod, row: OAuthSessionRow, params: Mapping[str, str]
    ) -> Grant:
        """Trade the callback's verifier; raise ``AccessDenied`` when the person declined,
        ``TokenExchangeFailed`` (or ``ProviderUnavailable``) when the provider refuses."""
        spec = method.oauth1
        assert spec is not None  # an oauth1 method has its section
        if params.get("denied") or not params.get("oauth_verifier"):
            raise AccessDenied(f"{entry.name} access was not granted")
        kept = self.ctx.vault.open(row.project_id, row.id, sealed.sealed_of(row))
        temporary = Temporary(str(kept["oauth_token"]), str(kept["oauth_token_secret"]))
        client = self.client_secrets(row.project_id, row.oauth_client_id)
        values = template_values(method, row.config)
        try:
            with self.ctx.metrics.provider_call(entry.key, "authorize"):
                response = self.consent.access_token(
                    spec,
                    values,
                    client,
                    app_name=entry.name,
                    temporary=temporary,
                    verifier=params["oauth_verifier"][:MAX_VALUE],
                )
        except GatekeyError as exc:
            if exc.code == "provider_unavailable":
                raise
            raise TokenExchangeFailed(exc.message, cause=exc.code) from None
        body = response.body
        names = spec.fields
        secret = {
            names.consumer_key: client.client_id,
            names.consumer_secret: client.client_secret,
            names.token: str(body["oauth_token"]),
            names.token_secret: str(body["oauth_token_secret"]),
        }
        config = dict(row.config)
        for name in spec.callback_config:
            if params.get(name):
                config[name] = _printable(params[name])
        for name in spec.token_response_config:
            if body.get(name) not in (None, ""):
                config[name] = _printable(body[name])
        label = self._label(entry, method, body, secret, config)
        return Grant(secret, config, None, [], label, response.sent_at)

    def _label(
        self,
        entry: App,
        method: AuthMethod,
        body: Mapping[str, Any],
        secret: dict[str, Any],
        config: dict[str, Any],
    ) -> str | None:
        """The account the access-token answer names, else the one the test request finds."""
        spec = method.oauth1
        assert spec is not None
        hidden = masking.secret_values(secret)
        for path in spec.account_label:
            value = dig(body, path)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return masking.Masker(hidden).text(_printable(value))
        return tested_label(
            self.ctx.metrics, self.prober, entry, method, {**secret, **config}, hidden
        )

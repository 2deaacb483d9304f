"""Authorization sessions: start connecting (or reconnecting) an OAuth2 app, an OAuth 1.0a
app, or installing a GitHub App, through the person's browser, and read a session's outcome.
The provider's answer at the callback is ``service.oauth_callback``.

RFC 6749 section 4.1 with PKCE (RFC 7636, S256) and the hygiene of RFC 9700: the ``state`` is
random, one-time, stored only as a hash and bound to its session in the database (so any
replica can take the callback); sessions expire; the redirect URI is one exact URL. A GitHub
App's install URL takes the same ``state`` (GitHub hands it back to the app's Setup URL with
the ``installation_id``); there is no code, so no PKCE verifier, and no scopes. OAuth 1.0a
has no ``state``: the temporary token the provider issued for the session (asked for here,
with this deployment's callback) is what comes back, so its hash stands in for the state's,
and its secret is sealed with the session.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gatekey import ids
from gatekey.catalog.logins import GitHubAppSpec
from gatekey.catalog.schema import App, AuthKind, AuthMethod, OAuth2Spec
from gatekey.domain import fields as field_rules
from gatekey.domain.apply import template_values
from gatekey.domain.connection import check_metadata, clean_name, name_key
from gatekey.domain.inputs import checked_arguments
from gatekey.domain.templates import render
from gatekey.errors import (
    DuplicateName,
    InvalidInput,
    NotFound,
)
from gatekey.models import AuthorizationSession
from gatekey.oauth.clients import ClientSecrets
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.oauth1_consent import OAuth1Consent
from gatekey.oauth.provider import ProviderClient
from gatekey.service.actor import Actor, authorize
from gatekey.service.connections import Connections
from gatekey.service.context import Context
from gatekey.service.lifecycle import refuse_retired
from gatekey.service.oauth_clients import parse_scopes, registered_client
from gatekey.service.views import session_of
from gatekey.store import audit as audit_rows
from gatekey.store import connections as rows
from gatekey.store import oauth as oauth_rows
from gatekey.store import sealed


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def code_method(entry: App) -> tuple[AuthMethod, OAuth2Spec]:
    """The app's authorization-code method and its OAuth2 settings."""
    try:
        method = entry.method(AuthKind.OAUTH2)
    except LookupError:
        raise InvalidInput(
            f"{entry.name} does not use the OAuth2 authorization-code flow"
        ) from None
    assert method.oauth2 is not None
    return method, method.oauth2


def consent_method(entry: App) -> AuthMethod:
    """The app's method connected through the browser: its OAuth2 authorization-code
    method, else its GitHub App, else its three-legged OAuth 1.0a."""
    for kind in (AuthKind.OAUTH2, AuthKind.GITHUB_APP):
        try:
            return entry.method(kind)
        except LookupError:
            continue
    for method in entry.auth:
        if method.oauth1 is not None and method.oauth1.flow == "three_legged":
            return method
    raise InvalidInput(
        f"{entry.name} uses neither the OAuth2 authorization-code flow, a GitHub App nor "
        "OAuth 1.0a consent"
    )


def install_url(spec: GitHubAppSpec, values: dict[str, str], state: str) -> str:
    """Where the person installs the GitHub App, with ``state`` added to its query."""
    parts = urlsplit(render(spec.install_url, values))
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "state"] + [("state", state)]
    return urlunsplit(parts._replace(query=urlencode(query)))


@checked_arguments
class Authorizations:
    """Connect (and reconnect) an OAuth2 app through the person's browser."""

    def __init__(
        self,
        ctx: Context,
        connections: Connections,
        provider: ProviderClient,
        client_secrets: ClientSecrets,
        consent: OAuth1Consent,
        *,
        callback_url: str,
        session_ttl: timedelta,
    ) -> None:
        self.ctx = ctx
        self.connections = connections
        self.provider = provider
        self.client_secrets = client_secrets
        self.consent = consent
        self.callback_url = callback_url
        self.session_ttl = session_ttl

    def _free_name(self, project_id: str, base: str) -> str:
        with self.ctx.db.read() as conn:
            for n in range(1, 100):
                candidate = base if n == 1 else f"{base} {n}"
                if not rows.name_taken(conn, project_id, name_key(candidate), except_id=None):
                    return candidate
        raise DuplicateName(f"pick a name: {base!r} and its numbered variants are taken")

    def start(
        self,
        actor: Actor,
        *,
        app: str | None = None,
        name: str | None = None,
        connection_id: str | None = None,
        scopes: Any = None,
        config: Any = None,
        metadata: Any = None,
        is_default: bool | None = None,
        allow_account_switch: bool = False,
    ) -> AuthorizationSession:
        """Start connecting (or, with ``connection_id``, reconnecting); return where to send
        the person. The session lasts ``session_ttl``; its outcome is read with
        ``status``.

        A reconnect must come back as the account the connection has (``account_mismatch``
        otherwise, and nothing changes) unless ``allow_account_switch``; a switch is audited.
        """
        authorize(actor, "start_authorization")
        if allow_account_switch and connection_id is None:
            raise InvalidInput(
                "allow_account_switch is for a reconnect: give the connection_id too"
            )
        self.ctx.budgets.spend_actor("oauth", actor, "authorizations started")
        existing = None
        if connection_id is not None:
            existing = self.connections.get(actor, connection_id)
            if app is not None and app != existing.app:
                raise InvalidInput(f"connection {connection_id} belongs to {existing.app}")
            app = existing.app
        if app is None:
            raise InvalidInput("app is required")
        entry = self.ctx.registry.get(actor.project_id, app)
        method = consent_method(entry)
        app_spec, spec = method.github_app, method.oauth2
        defaults = spec.default_scopes if spec is not None else []
        kept = set(method.config.properties) | set(app_spec.callback_config if app_spec else [])
        refuse_retired(entry, method, self.ctx.now().date())
        if existing is not None:
            display = clean_name(name) if name is not None else existing.name
            if existing.oauth_client_id is not None:
                client_row_id, override = existing.oauth_client_id, None
            else:
                client_row_id, override = registered_client(self.ctx.db, actor.project_id, entry)
            base_config = {k: v for k, v in existing.config.items() if k in kept}
            requested = parse_scopes(scopes) or existing.scopes or override or defaults
        else:
            client_row_id, override = registered_client(self.ctx.db, actor.project_id, entry)
            display = (
                clean_name(name)
                if name is not None
                else self._free_name(actor.project_id, f"{entry.name} account")
            )
            base_config = {}
            requested = parse_scopes(scopes) or override or defaults
        if app_spec is not None or method.oauth1 is not None:
            requested = []  # an installation's permissions are the app's; OAuth 1.0a has none
        known = {k: v for k, v in base_config.items() if k in method.config.properties}
        cleaned_config = field_rules.validate(
            method.config, {**known, **(config or {})}, what="config"
        )
        # a reconnect keeps what the install callback gave (the installation's id)
        cleaned_config.update({k: v for k, v in base_config.items() if k not in known})
        meta = check_metadata(metadata)
        with self.ctx.db.read() as conn:
            self.ctx.writer.check_name(conn, actor.project_id, display, except_id=connection_id)
        client = self.client_secrets(actor.project_id, client_row_id)
        state = secrets.token_urlsafe(32)
        values = template_values(method, cleaned_config)
        kept_secret: dict[str, str] = {}
        if app_spec is not None:
            authorize_url = install_url(app_spec, values, state)
        elif method.oauth1 is not None:
            state, authorize_url, kept_secret = self._temporary(entry, method, values, client)
        else:
            assert spec is not None  # consent_method: OAuth2 or a GitHub App
            kept_secret["code_verifier"] = secrets.token_urlsafe(64)
            authorize_url = self.provider.authorization_url(
                spec,
                values,
                client,
                redirect_uri=self.callback_url,
                scopes=requested,
                state=state,
                code_verifier=kept_secret["code_verifier"],
            )
        now = self.ctx.now()
        session_id = ids.new_id("oas")
        box = self.ctx.vault.seal(actor.project_id, session_id, kept_secret)
        with self.ctx.changing(actor, "oauth.start", "oauth_session", session_id) as conn:
            oauth_rows.insert_session(
                conn,
                {
                    "id": session_id,
                    "project_id": actor.project_id,
                    "app_key": entry.key,
                    "oauth_client_id": client_row_id,
                    "connection_id": connection_id,
                    "connection_name": display,
                    "is_default": is_default,
                    "scopes": list(requested),
                    "config": cleaned_config,
                    "meta": meta,
                    "state_hash": state_hash(state),
                    "redirect_uri": self.callback_url,
                    "status": "pending",
                    "actor": actor.key_id,
                    **sealed.columns(box),
                    "created_at": now,
                    "expires_at": now + self.session_ttl,
                    "allow_account_switch": allow_account_switch,
                },
            )
            audit_rows.record_now(
                conn,
                [
                    self.ctx.event(
                        actor,
                        "oauth.start",
                        "oauth_session",
                        session_id,
                        app=entry.key,
                        reconnect=connection_id,
                        allow_account_switch=allow_account_switch,
                    )
                ],
            )
            row = oauth_rows.session_by_id(conn, actor.project_id, session_id)
        assert row is not None  # inserted just now, in this transaction
        return session_of(row, now, authorize_url)

    def _temporary(
        self, entry: App, method: AuthMethod, values: dict[str, str], client: ClientCredentials
    ) -> tuple[str, str, dict[str, str]]:
        """OAuth 1.0a's first leg: the temporary token (the session's state), where the
        person approves it, and what to seal with the session."""
        spec = method.oauth1
        assert spec is not None
        with self.ctx.metrics.provider_call(entry.key, "token"):
            temporary = self.consent.request_token(
                spec, values, client, app_name=entry.name, callback_url=self.callback_url
            )
        authorize_url = self.consent.authorization_url(spec, values, temporary.token)
        kept = {"oauth_token": temporary.token, "oauth_token_secret": temporary.secret}
        return temporary.token, authorize_url, kept

    def status(self, actor: Actor, session_id: str) -> AuthorizationSession:
        authorize(actor, "authorization_status")
        ids.check("oas", session_id)
        with self.ctx.db.read() as conn:
            row = oauth_rows.session_by_id(conn, actor.project_id, session_id)
        if row is None:
            raise NotFound(f"authorization session {session_id} not found", id=session_id)
        return session_of(row, self.ctx.now())

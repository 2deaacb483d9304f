"""The provider's redirect to the callback: finish the authorization session it names.

The ``iss`` of the redirect (RFC 9207) is checked before anything else in it, by exact string
comparison with the app's declared issuer or the one the server's metadata (RFC 8414) names,
never with a guessed origin; it is required when the app says its provider always sends it or
the metadata says so. The code is exchanged with its PKCE verifier (RFC 7636) and the token set
sealed into a new connection, or into the one being reconnected, in one transaction, once the
app's discovery requests (``service.discovery``) said what the grant reaches; a GitHub App's
install brings an installation id instead (``service.github_installs``), an OAuth 1.0a consent
its temporary token and verifier (``service.oauth1_grants``). Nothing is stored but the
session's outcome when anything goes wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection as DbConnection

from gatekey import ids
from gatekey.catalog.schema import App, AuthMethod, OAuth2Spec
from gatekey.domain import masking, tokens
from gatekey.domain.apply import template_values
from gatekey.domain.bodies import dig
from gatekey.domain.connection import Change, Role, same_account
from gatekey.errors import (
    AccessDenied,
    AccountMismatch,
    AuthorizationFailed,
    GatekeyError,
    NotFound,
    SessionExpired,
    StateInvalid,
    TokenExchangeFailed,
)
from gatekey.models import AuthorizationSession
from gatekey.oauth.clients import ClientSecrets
from gatekey.oauth.oauth1_consent import OAuth1Consent
from gatekey.oauth.provider import ProviderClient
from gatekey.oauth.token_answers import TokenResponse
from gatekey.probe import Prober
from gatekey.service.actor import Actor
from gatekey.service.authorizations import code_method, consent_method, state_hash
from gatekey.service.callback_issuer import check_issuer
from gatekey.service.context import Context
from gatekey.service.discovery import Learned, discover
from gatekey.service.github_installs import GitHubInstalls
from gatekey.service.grants import Grant, tested_label
from gatekey.service.oauth1_grants import OAuth1Grants
from gatekey.service.views import session_of
from gatekey.store import audit as audit_rows
from gatekey.store import connections as connection_rows
from gatekey.store import oauth as oauth_rows
from gatekey.store import sealed
from gatekey.store.connection_writer import NewConnection
from gatekey.store.rows import OAuthSessionRow

log = logging.getLogger(__name__)
MAX_PROVIDER_TEXT = 300


def _provider_text(value: str | None) -> str:
    text = "".join(ch for ch in (value or "") if ch.isprintable())
    return text[:MAX_PROVIDER_TEXT]


class OAuthCallback:
    """Takes the provider's redirect; no actor: the session it names says whose it is."""

    def __init__(
        self,
        ctx: Context,
        provider: ProviderClient,
        client_secrets: ClientSecrets,
        prober: Prober,
        consent: OAuth1Consent,
    ) -> None:
        self.ctx = ctx
        self.provider = provider
        self.client_secrets = client_secrets
        self.prober = prober
        self.installs = GitHubInstalls(ctx, client_secrets, prober)
        self.oauth1 = OAuth1Grants(ctx, client_secrets, prober, consent)

    def complete(
        self, params: Mapping[str, str], *, client: str | None = None
    ) -> AuthorizationSession:
        """Take the provider's redirect to the callback and finish the session it names.

        Raise ``StateInvalid`` when no session can be named (missing, forged or replayed
        state); otherwise return the session, succeeded or failed. ``client`` (the caller's
        address) and the session's project each have a budget of callbacks a minute.
        """
        if client is not None:
            self.ctx.budgets.spend(
                "callback_per_client", client, "OAuth callbacks from this address"
            )
        # OAuth 1.0a sends no state: its temporary token names the session (or, declined on
        # X, the token in ``denied``)
        state = params.get("state") or params.get("oauth_token") or params.get("denied") or ""
        if not state or len(state) > 500:
            raise StateInvalid("the callback carries no valid state; start connecting again")
        digest = state_hash(state)
        with self.ctx.db.read() as conn:
            named = oauth_rows.session_by_state(conn, digest)
        if named is not None:
            self.ctx.budgets.spend(
                "callback_per_project", named.project_id, "OAuth callbacks in this project"
            )
        now = self.ctx.now()
        with self.ctx.db.write() as conn:
            claimed = oauth_rows.claim_session(conn, digest, now)
            row = oauth_rows.session_by_state(conn, digest)
        if row is None:
            raise StateInvalid("this sign-in was not started here; start connecting again")
        actor = Actor(project_id=row.project_id, key_id=row.actor, role=Role.ADMIN)
        if not claimed:
            if row.status == "pending":
                self._fail_session(
                    actor, row, SessionExpired("the sign-in took too long; start again")
                )
                return self._outcome(row.project_id, row.id)
            raise StateInvalid("this sign-in link was used already; start connecting again")
        try:
            connection_id = self._finish(actor, row, params)
        except GatekeyError as exc:
            self._fail_session(actor, row, exc)
        except Exception as exc:  # no traceback: its locals and messages may hold tokens
            log.error("authorization session %s failed: %s", row.id, type(exc).__name__)
            self._fail_session(
                actor, row, AuthorizationFailed("something went wrong on our side; try again")
            )
        else:
            log.info("authorization session %s connected %s", row.id, connection_id)
        return self._outcome(row.project_id, row.id)

    def _fail_session(self, actor: Actor, row: OAuthSessionRow, exc: GatekeyError) -> None:
        log.info("authorization session %s failed: %s", row.id, exc.code)
        with self.ctx.db.write() as conn:
            oauth_rows.finish_session(
                conn,
                row.id,
                {
                    "status": "failed",
                    "error_code": exc.code,
                    "error_message": exc.message,
                    "completed_at": self.ctx.now(),
                },
            )
            audit_rows.record_now(
                conn,
                [
                    self.ctx.event(
                        actor, "oauth.callback", "oauth_session", row.id, "failed", code=exc.code
                    )
                ],
            )

    def _finish(self, actor: Actor, row: OAuthSessionRow, params: Mapping[str, str]) -> str:
        entry = self.ctx.registry.get(row.project_id, row.app_key)
        method = consent_method(entry)
        if method.github_app is not None:  # an install: an installation id, no code
            return self._save(
                actor, row, entry, method, self.installs.grant(entry, method, row, params)
            )
        if method.oauth1 is not None:  # a consent: a verifier, no code
            return self._save(
                actor, row, entry, method, self.oauth1.grant(entry, method, row, params)
            )
        method, spec = code_method(entry)
        values = template_values(method, row.config)
        # the issuer first: until it is known who answered, nothing of the answer is shown,
        # not even its error (RFC 9207 section 2.4; mix-up attacks)
        check_issuer(self.provider, entry, spec, values, params.get("iss"))
        error = params.get("error")
        if error:
            said = _provider_text(params.get("error_description")) or _provider_text(error)
            if error == "access_denied":
                raise AccessDenied(f"{entry.name} access was not granted: {said}")
            raise AuthorizationFailed(
                f"{entry.name} answered {_provider_text(error)}: {said}", error=error
            )
        code = params.get("code")
        if not code:
            raise AuthorizationFailed(f"{entry.name} sent no authorization code")
        verifier = str(
            self.ctx.vault.open(row.project_id, row.id, sealed.sealed_of(row))["code_verifier"]
        )
        client = self.client_secrets(row.project_id, row.oauth_client_id)
        try:
            with self.ctx.metrics.provider_call(entry.key, "authorize"):
                response = self.provider.exchange_code(
                    spec,
                    values,
                    client,
                    app_name=entry.name,
                    redirect_uri=row.redirect_uri,
                    code=code,
                    code_verifier=verifier,
                )
        except GatekeyError as exc:
            if exc.code == "provider_unavailable":
                raise
            raise TokenExchangeFailed(exc.message, cause=exc.code) from None
        grant = self._oauth_grant(entry, method, spec, response, row, params)
        return self._save(actor, row, entry, method, grant)

    def _oauth_grant(
        self,
        entry: App,
        method: AuthMethod,
        spec: OAuth2Spec,
        response: TokenResponse,
        row: OAuthSessionRow,
        params: Mapping[str, str],
    ) -> Grant:
        """The token set of a code exchange, with what discovery learned."""
        body = response.body
        secret, token_config = tokens.merge({}, body, spec.token_config_paths)
        config = dict(row.config)
        config.update(token_config)
        for name in spec.callback_config:
            if params.get(name):
                config[name] = _provider_text(params[name])
        learned = self._discover(entry, method, spec, secret, config)
        config.update(learned.config)
        expires = tokens.expires_at(
            body,
            response.sent_at,
            refetchable=False,
            default_lifetime=spec.default_token_lifetime_seconds,
        )
        granted = tokens.granted_scopes(
            body, row.scopes, spec.scope_separator, spec.response_scope_separator
        )
        label = self._account_label(entry, method, spec, body, secret, config, learned.label)
        return Grant(secret, config, expires, granted, label, response.sent_at)

    def _save(
        self, actor: Actor, row: OAuthSessionRow, entry: App, method: AuthMethod, got: Grant
    ) -> str:
        """Seal the new token set and create (or reconnect) the connection with it, at once."""
        connection_id = row.connection_id or ids.new_id("conn")
        box = self.ctx.vault.seal(row.project_id, connection_id, got.secret)
        now = self.ctx.now()
        display = row.connection_name
        label, config, expires, sent_at = got.label, got.config, got.expires_at, got.sent_at
        granted = got.scopes
        detail: dict[str, Any] = {"app": entry.key, "session": row.id, "scopes": granted}
        with self.ctx.db.write() as conn:
            if row.connection_id is None:
                new = NewConnection(
                    id=connection_id,
                    project_id=row.project_id,
                    app_key=entry.key,
                    auth_kind=method.kind.value,
                    name=display,
                    sealed=box,
                    is_default=row.is_default,
                    account_label=label,
                    scopes=granted,
                    config=config,
                    meta=row.meta,
                    expires_at=expires,
                    last_refreshed_at=sent_at,
                    oauth_client_id=row.oauth_client_id,
                    verified_at=sent_at,
                )
                audit = self.ctx.event(
                    actor, "connection.create", "connection", connection_id, **detail
                )
                self.ctx.writer.insert(conn, new, audit, now)
            else:
                self.ctx.writer.check_name(conn, row.project_id, display, except_id=connection_id)
                self._check_account(conn, actor, row, entry, label)
                audit = self.ctx.event(
                    actor, "connection.reconnect", "connection", connection_id, **detail
                )
                grant = {
                    "name": display,
                    "account_label": label,
                    "scopes": granted,
                    "config": config,
                    "expires_at": expires,
                    "last_refreshed_at": sent_at,
                    "verified_at": sent_at,
                    "oauth_client_id": row.oauth_client_id,
                    "refresh_lease_owner": None,
                    "refresh_lease_until": None,
                    "refresh_failures": 0,
                    "refresh_retry_at": None,
                    "last_error": None,
                    "last_error_at": None,
                }
                changed = self.ctx.writer.set_status(
                    conn,
                    row.project_id,
                    connection_id,
                    Change.RECONNECTED,
                    now,
                    values=grant,
                    sealed=box,
                    audit=audit,
                )
                if changed is None:
                    raise NotFound("the connection being reconnected was deleted meanwhile")
            oauth_rows.finish_session(
                conn,
                row.id,
                {"status": "succeeded", "result_connection_id": connection_id, "completed_at": now},
            )
        return connection_id

    def _check_account(
        self,
        conn: DbConnection,
        actor: Actor,
        row: OAuthSessionRow,
        entry: App,
        label: str | None,
    ) -> None:
        """Refuse a reconnect that came back as another account (``AccountMismatch``) unless
        its session allows a switch; audit a switch it allows, in the caller's transaction."""
        assert row.connection_id is not None
        current = connection_rows.get(conn, row.project_id, row.connection_id, for_update=True)
        if current is None:
            raise NotFound("the connection being reconnected was deleted meanwhile")
        expected = current.account_label
        if same_account(expected, label):
            return
        if not row.allow_account_switch:
            raise AccountMismatch(
                f"{entry.name} signed in as {label}, but {current.name!r} is connected as "
                f"{expected}; nothing was changed: sign in as {expected}, or reconnect "
                "allowing an account switch",
                expected=expected,
                got=label,
            )
        switch = self.ctx.event(
            actor,
            "connection.account_switch",
            "connection",
            current.id,
            session=row.id,
            previous=expected,
            account=label,
        )
        audit_rows.record_now(conn, [switch])

    def _account_label(
        self,
        entry: App,
        method: AuthMethod,
        spec: OAuth2Spec,
        body: Mapping[str, Any],
        secret: Mapping[str, Any],
        config: Mapping[str, Any],
        discovered: str | None,
    ) -> str | None:
        """Name the account from the token response, or else from what discovery read, or
        else from the app's test request; a label that holds a token is stored masked."""
        hidden = masking.secret_values(secret)
        for path in spec.account_label:
            value = dig(body, path)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return masking.Masker(hidden).text(str(value))[:300]
        if discovered is not None:
            return discovered
        values = {**secret, **config}
        return tested_label(self.ctx.metrics, self.prober, entry, method, values, hidden)

    def _discover(
        self,
        entry: App,
        method: AuthMethod,
        spec: OAuth2Spec,
        secret: Mapping[str, Any],
        config: Mapping[str, Any],
    ) -> Learned:
        """Ask the app's API what the grant reaches (``spec.discovery``), before anything is
        stored: a failure fails the session with nothing written."""
        if not spec.discovery:
            return Learned({}, None)
        with self.ctx.metrics.provider_call(entry.key, "discovery"):
            return discover(
                self.prober.http,
                entry.name,
                spec,
                template_values(method, config),
                str(secret.get("access_token", "")),
                masking.secret_values(secret),
            )

    def _outcome(self, project_id: str, session_id: str) -> AuthorizationSession:
        with self.ctx.db.read() as conn:
            row = oauth_rows.session_by_id(conn, project_id, session_id)
        assert row is not None  # sessions are purged only long after they expire
        return session_of(row, self.ctx.now())

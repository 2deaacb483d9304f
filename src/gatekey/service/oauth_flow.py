"""The authorization-code flow: start a session, take the provider's callback, report the outcome.

RFC 6749 section 4.1 with PKCE (RFC 7636, S256) and the hygiene of RFC 9700: the ``state`` is
random, one-time, stored only as a hash and bound to its session in the database (so any
replica can take the callback); sessions expire; the redirect URI is one exact URL. The ``iss``
of the redirect (RFC 9207) is checked before anything else in it, by exact string comparison,
and required when the app declares its issuer or the server's metadata (RFC 8414) says it
sends one. Nothing is stored but the session's outcome when anything goes wrong.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from gatekey import ids
from gatekey.catalog.schema import App, AuthKind, AuthMethod, OAuth2Spec
from gatekey.domain import fields as field_rules
from gatekey.domain import masking, tokens
from gatekey.domain.apply import apply, template_values
from gatekey.domain.connection import Change, Role, clean_name, name_key
from gatekey.domain.templates import render
from gatekey.errors import (
    AccessDenied,
    AuthorizationFailed,
    DuplicateName,
    GatekeyError,
    InvalidInput,
    IssuerMismatch,
    NotFound,
    SessionExpired,
    StateInvalid,
    TokenExchangeFailed,
)
from gatekey.models import AuthorizationSession
from gatekey.oauth.provider import TokenResponse
from gatekey.probe import dig
from gatekey.service.base import Actor
from gatekey.service.connections import ConnectionsMixin, check_metadata
from gatekey.service.oauth_clients import OAuthClientsMixin, parse_scopes
from gatekey.store import audit as audit_rows
from gatekey.store import connections as rows
from gatekey.store import oauth as oauth_rows
from gatekey.store import sealed
from gatekey.store.connection_writer import NewConnection
from gatekey.store.rows import OAuthSessionRow

log = logging.getLogger(__name__)
MAX_PROVIDER_TEXT = 300


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _session_of(
    row: OAuthSessionRow, now: datetime, authorize_url: str | None = None
) -> AuthorizationSession:
    status = row.status
    error_code, error_message = row.error_code, row.error_message
    if status in ("pending", "exchanging"):
        status = "pending"
        if row.expires_at <= now:
            status = "failed"
            error_code = SessionExpired.code
            error_message = "the authorization took longer than allowed; start again"
    return AuthorizationSession(
        id=row.id,
        app=row.app_key,
        status=status,
        authorize_url=authorize_url,
        connection_id=row.result_connection_id or row.connection_id,
        reconnect=row.connection_id is not None,
        error_code=error_code,
        error_message=error_message,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _provider_text(value: str | None) -> str:
    text = "".join(ch for ch in (value or "") if ch.isprintable())
    return text[:MAX_PROVIDER_TEXT]


class OAuthFlowMixin(OAuthClientsMixin, ConnectionsMixin):
    """Connect (and reconnect) an OAuth2 app through the person's browser."""

    def _code_method(self, entry: App) -> tuple[AuthMethod, OAuth2Spec]:
        try:
            method = entry.method(AuthKind.OAUTH2)
        except LookupError:
            raise InvalidInput(
                f"{entry.name} does not use the OAuth2 authorization-code flow"
            ) from None
        assert method.oauth2 is not None
        return method, method.oauth2

    def _free_name(self, project_id: str, base: str) -> str:
        with self.db.read() as conn:
            for n in range(1, 100):
                candidate = base if n == 1 else f"{base} {n}"
                if not rows.name_taken(conn, project_id, name_key(candidate), except_id=None):
                    return candidate
        raise DuplicateName(f"pick a name: {base!r} and its numbered variants are taken")

    def start_authorization(
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
    ) -> AuthorizationSession:
        """Start connecting (or, with ``connection_id``, reconnecting); return where to send
        the person. The session lasts ``session_ttl``; its outcome is read with
        ``authorization_status``.
        """
        self._authorize(actor, "start_authorization")
        self._throttle_actor("oauth", actor, "authorizations started")
        existing = None
        if connection_id is not None:
            existing = self.get_connection(actor, connection_id)
            if app is not None and app != existing.app:
                raise InvalidInput(f"connection {connection_id} belongs to {existing.app}")
            app = existing.app
        if app is None:
            raise InvalidInput("app is required")
        entry = self.apps.get(actor.project_id, app)
        method, spec = self._code_method(entry)
        if existing is not None:
            display = clean_name(name) if name is not None else existing.name
            if existing.oauth_client_id is not None:
                client_row_id, override = existing.oauth_client_id, None
            else:
                client_row_id, override = self._client_for_app(actor.project_id, entry)
            base_config = {
                k: v for k, v in existing.config.items() if k in method.config.properties
            }
            requested = parse_scopes(scopes) or existing.scopes or override or spec.default_scopes
        else:
            client_row_id, override = self._client_for_app(actor.project_id, entry)
            display = (
                clean_name(name)
                if name is not None
                else self._free_name(actor.project_id, f"{entry.name} account")
            )
            base_config = {}
            requested = parse_scopes(scopes) or override or spec.default_scopes
        cleaned_config = field_rules.validate(
            method.config, {**base_config, **(config or {})}, what="config"
        )
        meta = check_metadata(metadata)
        with self.db.read() as conn:
            self.writer.check_name(conn, actor.project_id, display, except_id=connection_id)
        client = self._client_secret(actor.project_id, client_row_id)
        state = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        values = template_values(method, cleaned_config)
        authorize_url = self.provider.authorization_url(
            spec,
            values,
            client,
            redirect_uri=self.callback_url,
            scopes=requested,
            state=state,
            code_verifier=verifier,
        )
        now = self.clock()
        session_id = ids.new_id("oas")
        box = self.vault.seal(actor.project_id, session_id, {"code_verifier": verifier})
        with self._changing(actor, "oauth.start", "oauth_session", session_id) as conn:
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
                },
            )
            audit_rows.record_now(
                conn,
                [
                    self._event(
                        actor,
                        "oauth.start",
                        "oauth_session",
                        session_id,
                        app=entry.key,
                        reconnect=connection_id,
                    )
                ],
            )
            row = oauth_rows.session_by_id(conn, actor.project_id, session_id)
        assert row is not None  # inserted just now, in this transaction
        return _session_of(row, now, authorize_url)

    def authorization_status(self, actor: Actor, session_id: str) -> AuthorizationSession:
        self._authorize(actor, "authorization_status")
        ids.check("oas", session_id)
        with self.db.read() as conn:
            row = oauth_rows.session_by_id(conn, actor.project_id, session_id)
        if row is None:
            raise NotFound(f"authorization session {session_id} not found", id=session_id)
        return _session_of(row, self.clock())

    def complete_authorization(
        self, params: Mapping[str, str], *, client: str | None = None
    ) -> AuthorizationSession:
        """Take the provider's redirect to the callback and finish the session it names.

        Raise ``StateInvalid`` when no session can be named (missing, forged or replayed
        state); otherwise return the session, succeeded or failed. ``client`` (the caller's
        address) and the session's project each have a budget of callbacks a minute.
        """
        if client is not None:
            self._throttle("callback_per_client", client, "OAuth callbacks from this address")
        state = params.get("state") or ""
        if not state or len(state) > 500:
            raise StateInvalid("the callback carries no valid state; start connecting again")
        digest = state_hash(state)
        with self.db.read() as conn:
            named = oauth_rows.session_by_state(conn, digest)
        if named is not None:
            self._throttle(
                "callback_per_project", named.project_id, "OAuth callbacks in this project"
            )
        now = self.clock()
        with self.db.write() as conn:
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
                return self.authorization_status(actor, row.id)
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
        return self.authorization_status(actor, row.id)

    def _fail_session(self, actor: Actor, row: OAuthSessionRow, exc: GatekeyError) -> None:
        log.info("authorization session %s failed: %s", row.id, exc.code)
        with self.db.write() as conn:
            oauth_rows.finish_session(
                conn,
                row.id,
                {
                    "status": "failed",
                    "error_code": exc.code,
                    "error_message": exc.message,
                    "completed_at": self.clock(),
                },
            )
            audit_rows.record_now(
                conn,
                [
                    self._event(
                        actor, "oauth.callback", "oauth_session", row.id, "failed", code=exc.code
                    )
                ],
            )

    def _expected_issuer(self, spec: OAuth2Spec, values: Mapping[str, str]) -> tuple[str, bool]:
        """The issuer the callback must name, and whether it must name one at all (RFC 9207).

        An app that declares its ``issuer`` must send ``iss``. Otherwise the metadata of the
        server at the authorization URL's origin decides (RFC 8414): its ``issuer``, and
        whether it advertises ``authorization_response_iss_parameter_supported``. Without
        either, an ``iss`` that comes anyway must be that origin.
        """
        if spec.issuer:
            return spec.issuer, True
        origin = _origin(render(spec.authorization_url or "", values))
        metadata = self.provider.server_metadata(origin)
        if metadata is not None:
            return metadata.issuer, metadata.iss_parameter_supported
        return origin, False

    def _finish(self, actor: Actor, row: OAuthSessionRow, params: Mapping[str, str]) -> str:
        entry = self.apps.get(row.project_id, row.app_key)
        method, spec = self._code_method(entry)
        values = template_values(method, row.config)
        # the issuer first: until it is known who answered, nothing of the answer is shown,
        # not even its error (RFC 9207 section 2.4; mix-up attacks)
        expected, required = self._expected_issuer(spec, values)
        issuer = params.get("iss")
        if issuer is None and required:
            raise IssuerMismatch(
                f"the sign-in came back without naming its authorization server (iss), which "
                f"{entry.name} ({expected}) always does; nothing was stored"
            )
        if issuer is not None and issuer != expected:  # exact: no slash or case folding
            raise IssuerMismatch(
                f"the sign-in came back from another authorization server than {entry.name}'s "
                f"({expected}); nothing was stored"
            )
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
            self.vault.open(row.project_id, row.id, sealed.sealed_of(row))["code_verifier"]
        )
        client = self._client_secret(row.project_id, row.oauth_client_id)
        try:
            with self.metrics.provider_call(entry.key, "authorize"):
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
        return self._store_grant(actor, row, entry, method, spec, response, params)

    def _store_grant(
        self,
        actor: Actor,
        row: OAuthSessionRow,
        entry: App,
        method: AuthMethod,
        spec: OAuth2Spec,
        response: TokenResponse,
        params: Mapping[str, str],
    ) -> str:
        """Seal the new token set and create (or reconnect) the connection with it, at once."""
        body = response.body
        secret, token_config = tokens.merge({}, body, spec.token_response_config)
        config = dict(row.config)
        config.update(token_config)
        for name in spec.callback_config:
            if params.get(name):
                config[name] = _provider_text(params[name])
        expires = tokens.expires_at(body, response.sent_at, refetchable=False)
        granted = tokens.granted_scopes(body, row.scopes, spec.scope_separator)
        label = self._account_label(entry, method, spec, body, secret, config)
        connection_id = row.connection_id or ids.new_id("conn")
        box = self.vault.seal(row.project_id, connection_id, secret)
        now = self.clock()
        display = row.connection_name
        detail: dict[str, Any] = {"app": entry.key, "session": row.id, "scopes": granted}
        with self.db.write() as conn:
            if row.connection_id is None:
                new = NewConnection(
                    id=connection_id,
                    project_id=row.project_id,
                    app_key=entry.key,
                    auth_kind=AuthKind.OAUTH2.value,
                    name=display,
                    sealed=box,
                    is_default=row.is_default,
                    account_label=label,
                    scopes=granted,
                    config=config,
                    meta=row.meta,
                    expires_at=expires,
                    last_refreshed_at=response.sent_at,
                    oauth_client_id=row.oauth_client_id,
                )
                audit = self._event(
                    actor, "connection.create", "connection", connection_id, **detail
                )
                self.writer.insert(conn, new, audit, now)
            else:
                self.writer.check_name(conn, row.project_id, display, except_id=connection_id)
                audit = self._event(
                    actor, "connection.reconnect", "connection", connection_id, **detail
                )
                grant = {
                    "name": display,
                    "account_label": label,
                    "scopes": granted,
                    "config": config,
                    "expires_at": expires,
                    "last_refreshed_at": response.sent_at,
                    "oauth_client_id": row.oauth_client_id,
                    "refresh_lease_owner": None,
                    "refresh_lease_until": None,
                    "refresh_failures": 0,
                    "refresh_retry_at": None,
                    "last_error": None,
                    "last_error_at": None,
                }
                changed = self.writer.set_status(
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

    def _account_label(
        self,
        entry: App,
        method: AuthMethod,
        spec: OAuth2Spec,
        body: Mapping[str, Any],
        secret: Mapping[str, Any],
        config: Mapping[str, Any],
    ) -> str | None:
        """Name the account from the token response, or else from the app's test request;
        a label that holds a token is stored masked."""
        hidden = masking.secret_values(secret)
        for path in spec.account_label:
            value = dig(body, path)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return masking.Masker(hidden).text(str(value))[:300]
        values = {**secret, **config}
        try:
            with self.metrics.provider_call(entry.key, "test"):
                return self.prober.check(
                    entry,
                    method,
                    apply(entry, method, values),
                    template_values(method, values),
                    hidden,
                )
        except GatekeyError as exc:
            log.info("could not learn the %s account: %s", entry.key, exc.code)
            return None

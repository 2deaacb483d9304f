"""Connections: create, list, change, delete, test, and resolve credentials for executions."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from gatekey import ids
from gatekey.catalog.schema import App, AuthKind, AuthMethod
from gatekey.crypto.envelope import Sealed
from gatekey.domain import fields as field_rules
from gatekey.domain import masking, tokens
from gatekey.domain.apply import AppliedAuth, apply, template_values
from gatekey.domain.connection import Change, Status, clean_name
from gatekey.errors import (
    ConnectionInactive,
    ConnectionInUse,
    CredentialsRejected,
    GatekeyError,
    InvalidId,
    InvalidInput,
    MissingScopes,
    NotFound,
    PayloadTooLarge,
)
from gatekey.models import (
    AuditEvent,
    BasicAuth,
    Connection,
    ConnectionPage,
    Credentials,
    Deleted,
    Diagnosis,
    TestResult,
)
from gatekey.oauth.provider import ClientCredentials
from gatekey.service.base import Actor, ServiceBase
from gatekey.store import audit as audit_rows
from gatekey.store import connections as rows
from gatekey.store import flows as flow_rows
from gatekey.store import sealed
from gatekey.store.connection_writer import NewConnection
from gatekey.store.hot import AnyRow, HotRow, SecretRow
from gatekey.store.rows import ConnectionRow

MAX_METADATA_BYTES = 16 * 1024
_ACTIVE = Status.ACTIVE.value
_KINDS = {kind.value: kind for kind in AuthKind}
R = TypeVar("R", SecretRow, HotRow)


def _connection_of(row: ConnectionRow, flows: int = 0) -> Connection:
    return Connection(
        flows=flows,
        id=row.id,
        project_id=row.project_id,
        app=row.app_key,
        auth_kind=row.auth_kind,
        name=row.name,
        status=row.status,
        status_reason=row.status_reason,
        status_message=row.status_message,
        is_default=row.is_default,
        account_label=row.account_label,
        scopes=row.scopes,
        config=row.config,
        fields=row.public_fields,
        metadata=row.meta,
        expires_at=row.expires_at,
        last_refreshed_at=row.last_refreshed_at,
        last_used_at=row.last_used_at,
        oauth_client_id=row.oauth_client_id,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def inactive_error(row: SecretRow) -> ConnectionInactive:
    return ConnectionInactive(
        f"connection {row.name!r} ({row.id}) is inactive: "
        f"{row.status_message or row.status_reason or row.status}; reconnect it",
        id=row.id,
        reason=row.status_reason,
    )


def check_scopes(name: str, connection_id: str, granted: Any, required: Sequence[str]) -> None:
    """Raise ``MissingScopes`` naming what ``required`` has that ``granted`` lacks."""
    missing = [s for s in required if s not in set(granted or [])]
    if missing:
        raise MissingScopes(
            f"connection {name!r} ({connection_id}) was not granted {', '.join(missing)}; "
            "reconnect it asking for them",
            id=connection_id,
            missing=missing,
        )


def _encode_cursor(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidInput("cursor is not one this API returned") from None
    if not isinstance(after, str) or not ids.is_valid("conn", after):
        raise InvalidInput("cursor is not one this API returned")
    return after


def check_metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata must be an object")
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise PayloadTooLarge(f"metadata is larger than {MAX_METADATA_BYTES // 1024} KiB")
    return metadata


@dataclass(frozen=True, slots=True)
class Replacement:
    """New credentials for a connection: column values and the sealed secret."""

    values: dict[str, Any]
    sealed: Sealed = field(repr=False)


@dataclass(frozen=True)
class Prepared:
    """Validated credentials ready to seal; ``columns`` are token columns (client credentials)."""

    secret: dict[str, Any] = field(repr=False)
    public: dict[str, Any]
    config: dict[str, Any]
    label: str | None
    columns: dict[str, Any] = field(default_factory=dict, repr=False)


class ConnectionsMixin(ServiceBase):
    """The connections of the actor's project."""

    # -- connections ------------------------------------------------------------------------

    def _method(self, app: App, auth_kind: str | None) -> AuthMethod:
        try:
            return app.method(auth_kind)
        except LookupError:
            kinds = ", ".join(m.kind for m in app.auth)
            raise InvalidInput(
                f"{app.name} does not support auth kind {auth_kind!r} (it supports {kinds})"
            ) from None

    @staticmethod
    def _check_id(connection_id: str) -> None:
        if not isinstance(connection_id, str) or not ids.is_valid("conn", connection_id):
            raise InvalidId("connection ids look like conn_ followed by 26 characters")

    @staticmethod
    def _missing(connection_id: str) -> NotFound:
        return NotFound(f"connection {connection_id} not found", id=connection_id)

    def _prepare(
        self, app: App, method: AuthMethod, values: Any, config: Any, validate: bool
    ) -> Prepared:
        """Validate fields and config, fetch a client-credentials token, run the test request."""
        if method.kind is AuthKind.OAUTH2:
            raise InvalidInput(
                f"{app.name} connects through its consent screen: start an authorization "
                "(POST /api/v1/oauth/sessions, or 'gatekey connections connect')"
            )
        cleaned = field_rules.validate(method.fields, values, what="fields")
        cleaned_config = field_rules.validate(method.config, config, what="config")
        public, secret = field_rules.split(method.fields, cleaned)
        extra: dict[str, Any] = {}
        handed = {**cleaned, **cleaned_config}
        if method.kind is AuthKind.OAUTH2_CLIENT_CREDENTIALS:
            secret, extra = self._client_credentials_token(app, method, cleaned, cleaned_config)
            cleaned_config = {**cleaned_config, **extra.pop("config")}
            handed = {**secret, **cleaned_config}
        label = None
        if validate:
            with self.metrics.provider_call(app.key, "test"):
                label = self.prober.check(
                    app,
                    method,
                    apply(app, method, handed),
                    template_values(method, handed),
                    masking.secret_values(secret, method.fields.secret_names),
                )
        return Prepared(secret, public, cleaned_config, label, extra)

    def _client_credentials_token(
        self, app: App, method: AuthMethod, cleaned: dict[str, Any], config: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Fetch the first token of a client-credentials connection (RFC 6749 section 4.4)."""
        spec = method.oauth2
        assert spec is not None
        client = ClientCredentials(str(cleaned["client_id"]), str(cleaned["client_secret"]))
        with self.metrics.provider_call(app.key, "token"):
            response = self.provider.client_credentials(
                spec,
                template_values(method, config),
                client,
                app_name=app.name,
                scopes=spec.default_scopes,
            )
        secret, token_config = tokens.merge(cleaned, response.body, spec.token_response_config)
        extra = {
            "expires_at": tokens.expires_at(response.body, response.sent_at, refetchable=True),
            "last_refreshed_at": response.sent_at,
            "scopes": tokens.granted_scopes(
                response.body, spec.default_scopes, spec.scope_separator
            ),
            "config": token_config,
        }
        return secret, extra

    def create_connection(
        self,
        actor: Actor,
        *,
        app: str,
        name: str,
        fields: Any = None,
        config: Any = None,
        auth_kind: str | None = None,
        metadata: Any = None,
        is_default: bool | None = None,
        validate: bool = True,
    ) -> Connection:
        """Create a connection; with ``validate`` the provider must accept the credentials first."""
        self._authorize(actor, "create_connection")
        entry = self.apps.get(actor.project_id, app)
        method = self._method(entry, auth_kind)
        display = clean_name(name)
        meta = check_metadata(metadata)
        prepared = self._prepare(entry, method, fields, config, validate)
        now = self.clock()
        connection_id = ids.new_id("conn")
        token = prepared.columns
        new = NewConnection(
            id=connection_id,
            project_id=actor.project_id,
            app_key=entry.key,
            auth_kind=method.kind.value,
            name=display,
            sealed=self.vault.seal(actor.project_id, connection_id, prepared.secret),
            is_default=is_default,
            account_label=prepared.label,
            scopes=token.get("scopes", ()),
            config=prepared.config,
            public_fields=prepared.public,
            meta=meta,
            expires_at=token.get("expires_at"),
            last_refreshed_at=token.get("last_refreshed_at"),
        )
        audit = self._event(
            actor,
            "connection.create",
            "connection",
            connection_id,
            app=entry.key,
            validated=validate,
        )
        with self._changing(actor, "connection.create", "connection", connection_id) as conn:
            self.writer.insert(conn, new, audit, now)
        return self.get_connection(actor, connection_id)

    def list_connections(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        app: str | None = None,
        text: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> ConnectionPage:
        self._authorize(actor, "list_connections")
        if status is not None and status not in {s.value for s in Status}:
            raise InvalidInput(f"status must be one of {', '.join(s.value for s in Status)}")
        if app is not None:
            self.apps.get(actor.project_id, app)
        if not 1 <= limit <= 200:
            raise InvalidInput("limit must be between 1 and 200")
        if text is not None and len(text) > 200:
            raise InvalidInput("search text must be at most 200 characters")
        after = _decode_cursor(cursor) if cursor else None
        with self.db.read() as conn:
            found = rows.page(
                conn,
                actor.project_id,
                status=status,
                app_key=app,
                text=text,
                after=after,
                limit=limit + 1,
            )
            counts = flow_rows.flow_counts(conn, actor.project_id, [r.id for r in found[:limit]])
        items = [_connection_of(r, counts.get(r.id, 0)) for r in found[:limit]]
        next_cursor = _encode_cursor(items[-1].id) if len(found) > limit else None
        return ConnectionPage(items=items, next_cursor=next_cursor)

    def get_connection(self, actor: Actor, connection_id: str) -> Connection:
        self._authorize(actor, "get_connection")
        self._check_id(connection_id)
        with self.db.read() as conn:
            row = rows.get(conn, actor.project_id, connection_id)
            counts = flow_rows.flow_counts(conn, actor.project_id, [connection_id])
        if row is None:
            raise self._missing(connection_id)
        return _connection_of(row, counts.get(connection_id, 0))

    def update_connection(
        self,
        actor: Actor,
        connection_id: str,
        *,
        name: str | None = None,
        is_default: bool | None = None,
        metadata: Any = None,
        fields: Any = None,
        config: Any = None,
        validate: bool = True,
    ) -> Connection:
        """Rename, make (or stop being) the default, replace metadata or credentials: all or none.

        New ``fields`` (or ``config``) are validated like a new connection, the provider's
        check included, before anything is written; the id never changes.
        """
        self._authorize(actor, "update_connection")
        self._check_id(connection_id)
        display = clean_name(name) if name is not None else None
        meta = check_metadata(metadata) if metadata is not None else None
        replacement = None
        if fields is not None or config is not None:
            replacement = self._new_credentials(actor, connection_id, fields, config, validate)
        now = self.clock()
        with self._changing(actor, "connection.update", "connection", connection_id) as conn:
            row = rows.get(conn, actor.project_id, connection_id)
            if row is None:
                raise self._missing(connection_id)
            if is_default is not None:
                rows.lock_defaults(conn, actor.project_id, row.app_key)
                row = rows.get(conn, actor.project_id, connection_id)
                if row is None:
                    raise self._missing(connection_id)
            values: dict[str, Any] = {}
            changed = ["credentials"] if replacement is not None else []
            if display is not None and display != row.name:
                self.writer.check_name(conn, actor.project_id, display, except_id=connection_id)
                values["name"] = display
                changed.append("name")
            if is_default is not None and is_default != row.is_default:
                if is_default:
                    rows.clear_default(conn, actor.project_id, row.app_key, now)
                values["is_default"] = is_default
                changed.append("is_default")
            if meta is not None:
                values["meta"] = meta
                changed.append("metadata")
            audit = self._event(
                actor, "connection.update", "connection", connection_id, changed=changed
            )
            if replacement is not None:
                self.writer.set_status(
                    conn,
                    actor.project_id,
                    connection_id,
                    Change.CREDENTIALS_REPLACED,
                    now,
                    values={**replacement.values, **values},
                    sealed=replacement.sealed,
                    audit=audit,
                )
            elif changed:
                self.writer.update(conn, actor.project_id, connection_id, values, now, audit)
        return self.get_connection(actor, connection_id)

    def _new_credentials(
        self, actor: Actor, connection_id: str, fields: Any, config: Any, validate: bool
    ) -> Replacement:
        """Validate and seal replacement credentials."""
        row, entry, method, secret = self._open(actor, connection_id)
        if method.kind is AuthKind.OAUTH2_CLIENT_CREDENTIALS and fields is None:
            secret = {k: v for k, v in secret.items() if k in method.fields.properties}
        known = method.config.properties
        prepared = self._prepare(
            entry,
            method,
            secret if fields is None else fields,
            {k: v for k, v in row.config.items() if k in known} if config is None else config,
            validate,
        )
        values = {
            **prepared.columns,
            "public_fields": prepared.public,
            "config": prepared.config,
            "account_label": prepared.label if validate else row.account_label,
        }
        return Replacement(
            values, self.vault.seal(actor.project_id, connection_id, prepared.secret)
        )

    def rename_connection(self, actor: Actor, connection_id: str, name: str) -> Connection:
        self._authorize(actor, "rename_connection")
        return self.update_connection(actor, connection_id, name=name)

    def set_default(self, actor: Actor, connection_id: str) -> Connection:
        self._authorize(actor, "set_default")
        return self.update_connection(actor, connection_id, is_default=True)

    def replace_credentials(
        self,
        actor: Actor,
        connection_id: str,
        *,
        fields: Any,
        config: Any = None,
        validate: bool = True,
    ) -> Connection:
        """Put new credentials on the same connection id, validated like a new connection."""
        self._authorize(actor, "replace_credentials")
        return self.update_connection(
            actor, connection_id, fields=fields, config=config, validate=validate
        )

    def delete_connection(
        self, actor: Actor, connection_id: str, *, force: bool = False
    ) -> Deleted:
        """Delete a connection; refused while flows use it, unless ``force``."""
        self._authorize(actor, "delete_connection")
        self._check_id(connection_id)
        with self._changing(actor, "connection.delete", "connection", connection_id) as conn:
            row = rows.get(conn, actor.project_id, connection_id)
            if row is None:
                raise self._missing(connection_id)
            users = sorted({u.name for u in flow_rows.using(conn, actor.project_id, row.id)})
            if users and not force:
                raise ConnectionInUse(
                    f"{row.name!r} is used by {len(users)} flow(s): {', '.join(users)}; "
                    "point them at another connection first, or delete anyway",
                    flows=users,
                )
            audit = self._event(
                actor, "connection.delete", "connection", connection_id, app=row.app_key
            )
            if not self.writer.delete(conn, row, self.clock(), audit):
                raise self._missing(connection_id)
        found = self.apps.find(actor.project_id, row.app_key)
        app_name = found.name if found is not None else row.app_key
        if row.is_default:
            message = (
                f"deleted {row.name!r}; it was the default {app_name} connection, and no "
                f"{app_name} connection is the default now: set one with set-default"
            )
        else:
            message = f"deleted {row.name!r}"
        return Deleted(id=connection_id, was_default=row.is_default, message=message)

    def _open(
        self, actor: Actor, connection_id: str
    ) -> tuple[SecretRow, App, AuthMethod, dict[str, Any]]:
        return self._unseal(actor, connection_id, self.secrets.read)

    def _unseal(
        self, actor: Actor, connection_id: str, read: Callable[[str, str], R | None]
    ) -> tuple[R, App, AuthMethod, dict[str, Any]]:
        """Read the row with ``read`` (whole or hot) and open its secret (a copy)."""
        self._check_id(connection_id)
        row = read(actor.project_id, connection_id)
        if row is None:
            raise self._missing(connection_id)
        entry = self.apps.get(actor.project_id, row.app_key)
        method = self._method(entry, row.auth_kind)
        return row, entry, method, dict(self._secret_of(row))

    def _whole(self, row: HotRow) -> SecretRow:
        """The whole row behind a hot one, for the paths that need more (errors)."""
        whole = self.secrets.read(row.project_id, row.id)
        if whole is None:
            raise self._missing(row.id)
        return whole

    def _secret_of(self, row: AnyRow) -> dict[str, Any]:
        """The decrypted secret of a row just read, from the cache when its ciphertext is one
        already opened (never returned to callers as is: they get a copy)."""
        key = (row.project_id, row.id, row.secret_ciphertext)
        found = self._opened.get(key)
        if found is None:
            found = self.vault.open(row.project_id, row.id, sealed.sealed_of(row))
            self._opened.put(key, found)
        return found

    def _fresh(
        self, row: AnyRow, method: AuthMethod, secret: dict[str, Any], stale: str | None = None
    ) -> tuple[AnyRow, dict[str, Any]]:
        """Return the token set to hand out; ``service.tokens`` refreshes OAuth2 tokens here."""
        return row, secret

    def resolve_credentials(
        self,
        actor: Actor,
        connection_id: str,
        *,
        stale_token: str | None = None,
        required_scopes: Sequence[str] = (),
    ) -> Credentials:
        """Return ready-to-use credentials for an execution; audited, never logged.

        The hot path: one indexed read and the decrypt. The audit entry and ``last_used_at``
        are queued for the group-commit writer. An OAuth2 token that expires within the
        refresh margin is refreshed first; ``stale_token`` (the token the app just refused with
        one of ``expired_token_status``) forces a refresh unless another caller already did.
        Refresh tokens and client secrets are never handed out. ``required_scopes`` that the
        grant lacks fail with ``missing_scopes`` instead of a provider's 403 later.
        """
        try:
            self._authorize(actor, "resolve_credentials")
            self._throttle_actor("resolve", actor, "credential requests")
            hot, entry, method, secret = self._unseal(actor, connection_id, self.secrets.read_hot)
            row: AnyRow = hot
            if hot.status != _ACTIVE:
                raise inactive_error(self._whole(hot))
            if required_scopes and not set(required_scopes).issubset(hot.scopes):
                check_scopes(self._whole(hot).name, hot.id, hot.scopes, required_scopes)
            if method.oauth2 is not None:
                row, secret = self._fresh(row, method, secret, stale_token)
        except GatekeyError as exc:
            self.metrics.resolved(exc.code)
            self.audit.read(
                self.clock(), actor.project_id, actor.key_id, connection_id, "refused", exc.code
            )
            raise
        auth = self._applied_auth(row, entry, method, secret)
        self.metrics.resolved()
        self.audit.read(self.clock(), actor.project_id, actor.key_id, connection_id)
        basic = None
        if auth.basic is not None:
            basic = BasicAuth.model_construct(username=auth.basic[0], password=auth.basic[1])
        handed = secret
        token_type = None
        expired_status: list[int] = []
        if method.oauth2 is not None:
            handed = {k: secret[k] for k in tokens.HANDED_OUT if k in secret}
            token_type = str(secret.get("token_type") or "Bearer")
            expired_status = method.oauth2.expired_token_status
        # Every value comes from validated, stored data: construct without re-validating.
        return Credentials.trusted(
            {
                "connection_id": row.id,
                "app": row.app_key,
                "auth_kind": _KINDS[row.auth_kind],
                "fields": handed,
                "config": row.config,
                "base_url": auth.base_url,
                "headers": dict(auth.headers),
                "query": dict(auth.query),
                "basic": basic,
                "expires_at": row.expires_at,
                "token_type": token_type,
                "expired_token_status": list(expired_status),
            }
        )

    def _applied_auth(
        self, row: AnyRow, entry: App, method: AuthMethod, secret: dict[str, Any]
    ) -> AppliedAuth:
        """``apply`` for this version of the row (version covers config, ciphertext the
        secret) under this definition of the app; computed once, then reused."""
        key = (row.project_id, row.id, row.version, row.secret_ciphertext, row.auth_kind)
        found = self._applied.get(key)
        if found is not None and found[0] is entry:
            return found[1]
        auth = apply(entry, method, {**secret, **row.config})
        self._applied.put(key, (entry, auth))
        return auth

    def diagnose_connection(
        self, actor: Actor, connection_id: str, required_scopes: Sequence[str] = ()
    ) -> Diagnosis:
        """Say whether the connection can serve a caller needing ``required_scopes``."""
        self._authorize(actor, "diagnose_connection")
        connection = self.get_connection(actor, connection_id)
        missing = [s for s in required_scopes if s not in set(connection.scopes)]
        return Diagnosis(
            connection_id=connection.id,
            ok=connection.status == Status.ACTIVE and not missing,
            status=connection.status,
            status_reason=connection.status_reason,
            status_message=connection.status_message,
            granted_scopes=connection.scopes,
            missing_scopes=missing,
            expires_at=connection.expires_at,
            last_error=connection.last_error,
        )

    def test_connection(self, actor: Actor, connection_id: str) -> TestResult:
        """Run the app's test request; a refusal marks the connection inactive, success heals it."""
        self._authorize(actor, "test_connection")
        whole, entry, method, secret = self._open(actor, connection_id)
        row: AnyRow = whole
        if method.oauth2 is not None and row.status == Status.ACTIVE.value:
            try:
                row, secret = self._fresh(row, method, secret)
            except ConnectionInactive as exc:
                return TestResult(ok=False, message=exc.message)
        values = {**secret, **row.config}
        auth: AppliedAuth = apply(entry, method, values)
        now = self.clock()
        try:
            with self.metrics.provider_call(entry.key, "test"):
                label = self.prober.check(
                    entry,
                    method,
                    auth,
                    template_values(method, values),
                    masking.secret_values(secret, method.fields.secret_names),
                )
        except CredentialsRejected as exc:
            self._tested(actor, connection_id, Change.CREDENTIALS_REFUSED, now, exc.message)
            return TestResult(ok=False, message=exc.message)
        has_test = (method.test_request or entry.test_request) is not None
        message = "credentials accepted" if has_test else f"{entry.name} has no test request"
        label = label or whole.account_label
        self._tested(actor, connection_id, Change.TEST_PASSED, now, account_label=label)
        return TestResult(ok=True, account_label=label, message=message)

    def _tested(
        self,
        actor: Actor,
        connection_id: str,
        change: Change,
        now: datetime,
        message: str | None = None,
        **values: Any,
    ) -> None:
        """Record the outcome of a test: the status change, audited as ``connection.test``."""
        passed = change is Change.TEST_PASSED
        audit = self._event(
            actor,
            "connection.test",
            "connection",
            connection_id,
            "ok" if passed else "failed",
            status=(Status.ACTIVE if passed else Status.INACTIVE).value,
        )
        with self.db.write() as conn:
            self.writer.set_status(
                conn,
                actor.project_id,
                connection_id,
                change,
                now,
                message=message,
                values=values,
                audit=audit,
            )

    def audit_trail(
        self, actor: Actor, connection_id: str | None = None, limit: int = 100
    ) -> list[AuditEvent]:
        self._authorize(actor, "audit_trail")
        if connection_id is not None:
            self.get_connection(actor, connection_id)
        self.audit.flush()
        with self.db.read() as conn:
            found = audit_rows.events_for(conn, actor.project_id, connection_id, limit)
        return [AuditEvent.model_validate(r._asdict()) for r in found]

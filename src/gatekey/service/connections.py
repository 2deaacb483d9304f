"""Connections: create, list, change, delete and test them (resolving credentials is
``service.credentials``)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
    InvalidInput,
    NotFound,
    PayloadTooLarge,
)
from gatekey.models import (
    AuditEvent,
    Connection,
    ConnectionPage,
    Credentials,
    Deleted,
    Diagnosis,
    TestResult,
)
from gatekey.oauth.provider import ClientCredentials
from gatekey.oauth.revocation import Revocation, RevocationRequest
from gatekey.service.base import Actor, ServiceBase
from gatekey.service.credentials import check_id, method_of, missing
from gatekey.store import audit as audit_rows
from gatekey.store import connections as rows
from gatekey.store import flows as flow_rows
from gatekey.store.connection_writer import NewConnection
from gatekey.store.rows import ConnectionRow

MAX_METADATA_BYTES = 16 * 1024


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

    @staticmethod
    def _method(app: App, auth_kind: str | None) -> AuthMethod:
        return method_of(app, auth_kind)

    @staticmethod
    def _check_id(connection_id: str) -> None:
        check_id(connection_id)

    @staticmethod
    def _missing(connection_id: str) -> NotFound:
        return missing(connection_id)

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
        row, details, entry, method, secret = self.resolver.open(actor, connection_id)
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
            "account_label": prepared.label if validate else details.account_label,
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
        """Delete a connection; refused while flows use it, unless ``force``. An OAuth2 grant
        is then revoked at the provider (RFC 7009, ``oauth.revocation``), best effort."""
        self._authorize(actor, "delete_connection")
        self._check_id(connection_id)
        revocation = self._revocation(actor, connection_id)  # while the secret exists
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
        deleted = Deleted(id=connection_id, was_default=row.is_default, message=message)
        if revocation is None:
            return deleted
        if isinstance(revocation, Revocation):
            return deleted.model_copy(update={"provider_revocation": revocation.outcome})
        revoked = self.revoker.revoke(revocation)
        outcome = "ok" if revoked.outcome == "revoked" else "failed"
        self.audit.submit(
            self._event(
                actor, "connection.revoke", "connection", connection_id, outcome, **revoked.detail()
            )
        )
        return deleted.model_copy(update={"provider_revocation": revoked.outcome})

    def _revocation(
        self, actor: Actor, connection_id: str
    ) -> RevocationRequest | Revocation | None:
        """What revoking the connection's grant will need, read before it is deleted."""
        try:
            opened = self.resolver.open(actor, connection_id)
        except GatekeyError:
            return None
        return self.revoker.prepare(*opened)

    def resolve_credentials(
        self,
        actor: Actor,
        connection_id: str,
        *,
        stale_token: str | None = None,
        required_scopes: Sequence[str] = (),
    ) -> Credentials:
        """Return ready-to-use credentials for an execution (``service.credentials``)."""
        return self.resolver.resolve(
            actor, connection_id, stale_token=stale_token, required_scopes=required_scopes
        )

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
        row, details, entry, method, secret = self.resolver.open(actor, connection_id)
        if method.oauth2 is not None and row.status == Status.ACTIVE.value:
            try:
                row, secret = self.refresher.fresh(row, method.oauth2, secret)
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
        label = label or details.account_label
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

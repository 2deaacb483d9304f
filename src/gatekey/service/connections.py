"""Connections: create, list, change, delete and test them (resolving credentials is
``service.credentials``)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from typing import Any

from gatekey import ids
from gatekey.domain.connection import Change, Status, check_metadata, clean_name
from gatekey.domain.inputs import checked_arguments
from gatekey.domain.pagination import check_limit, decode_cursor, encode_cursor
from gatekey.errors import (
    ConnectionInUse,
    GatekeyError,
    Hint,
    InvalidInput,
)
from gatekey.models import AuditEvent, Connection, ConnectionPage, Deleted, Diagnosis, TestResult
from gatekey.oauth.refresh import Refresher
from gatekey.oauth.revocation import Revocation, RevocationRequest, Revoker
from gatekey.service.actor import Actor, authorize
from gatekey.service.connection_tests import ConnectionTester
from gatekey.service.context import Context
from gatekey.service.credential_checks import CredentialCheck
from gatekey.service.credentials import Resolver, check_id, method_of, missing
from gatekey.service.lifecycle import refuse_retired, warnings_of
from gatekey.service.views import audit_event_of, connection_of, diagnosis_of
from gatekey.store import audit as audit_rows
from gatekey.store import connections as rows
from gatekey.store import flows as flow_rows
from gatekey.store.connection_writer import NewConnection
from gatekey.store.rows import ConnectionRow


@checked_arguments
class Connections:
    """The connections of the actor's project."""

    def __init__(
        self,
        ctx: Context,
        check: CredentialCheck,
        resolver: Resolver,
        refresher: Refresher,
        revoker: Revoker,
    ) -> None:
        self.ctx = ctx
        self.check = check
        self.resolver = resolver
        self.refresher = refresher
        self.revoker = revoker
        self.tester = ConnectionTester(ctx, check, resolver, refresher)

    def create(
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
        scopes: Any = None,
    ) -> Connection:
        """Create a connection; with ``validate`` the provider must accept the credentials first.
        ``scopes`` (kinds that obtain their own token: a service account, client credentials)
        replace the method's default scopes."""
        authorize(actor, "create_connection")
        entry = self.ctx.registry.get(actor.project_id, app)
        method = method_of(entry, auth_kind)
        display = clean_name(name)
        meta = check_metadata(metadata)
        connection_id = ids.new_id("conn")
        with self.ctx.refusals(actor, "connection.create", "connection", connection_id):
            refuse_retired(entry, method, self.ctx.now().date())
            self._check_name(actor, display)  # before the provider is asked; the insert rechecks
        prepared = self.check.prepare(
            entry, method, fields, config, validate, connection_id=connection_id, scopes=scopes
        )
        now = self.ctx.now()
        token = prepared.columns
        new = NewConnection(
            id=connection_id,
            project_id=actor.project_id,
            app_key=entry.key,
            auth_kind=method.kind.value,
            name=display,
            sealed=self.ctx.vault.seal(actor.project_id, connection_id, prepared.secret),
            is_default=is_default,
            account_label=prepared.label,
            scopes=token.get("scopes", ()),
            config=prepared.config,
            public_fields=prepared.public,
            meta=meta,
            expires_at=token.get("expires_at"),
            last_refreshed_at=token.get("last_refreshed_at"),
            verified_at=now if prepared.verified else None,
        )
        audit = self.ctx.event(
            actor,
            "connection.create",
            "connection",
            connection_id,
            app=entry.key,
            validated=validate,
        )
        with self.ctx.changing(actor, "connection.create", "connection", connection_id) as conn:
            self.ctx.writer.insert(conn, new, audit, now)
        return self.get(actor, connection_id)

    def _check_name(self, actor: Actor, name: str, except_id: str | None = None) -> None:
        """Refuse a name the project has already (``DuplicateName``), before any provider call."""
        with self.ctx.db.read() as conn:
            self.ctx.writer.check_name(conn, actor.project_id, name, except_id=except_id)

    def list(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        app: str | None = None,
        text: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> ConnectionPage:
        authorize(actor, "list_connections")
        if status is not None and status not in {s.value for s in Status}:
            raise InvalidInput(f"status must be one of {', '.join(s.value for s in Status)}")
        if app is not None:
            self.ctx.registry.get(actor.project_id, app)
        check_limit(limit, 200)
        if text is not None and len(text) > 200:
            raise InvalidInput("search text must be at most 200 characters")
        after = decode_cursor(cursor) if cursor else None
        with self.ctx.db.read() as conn:
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
        items = self._views(found[:limit], counts)
        next_cursor = encode_cursor(items[-1].id) if len(found) > limit else None
        return ConnectionPage(items=items, next_cursor=next_cursor)

    def names(self, actor: Actor, connection_ids: Iterable[str]) -> dict[str, str]:
        """The names of the actor's connections among ``connection_ids`` (ids of other
        projects or of deleted connections are left out)."""
        authorize(actor, "list_connections")
        with self.ctx.db.read() as conn:
            return rows.names(conn, actor.project_id, connection_ids)

    def get(self, actor: Actor, connection_id: str) -> Connection:
        authorize(actor, "get_connection")
        check_id(connection_id)
        with self.ctx.db.read() as conn:
            row = rows.get(conn, actor.project_id, connection_id)
            counts = flow_rows.flow_counts(conn, actor.project_id, [connection_id])
        if row is None:
            raise missing(connection_id)
        return self._views([row], counts)[0]

    def _views(
        self, found: Sequence[ConnectionRow], flows: dict[str, int]
    ) -> builtins.list[Connection]:
        """The connections as people see them, with what their apps' entries warn of now
        (each app looked up once)."""
        now = self.ctx.now()
        keys = {(r.project_id, r.app_key) for r in found}
        apps = {key: self.ctx.registry.find(*key) for key in keys}
        return [
            connection_of(r, flows.get(r.id, 0), warnings_of(r, apps[r.project_id, r.app_key], now))
            for r in found
        ]

    def update(
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
        authorize(actor, "update_connection")
        check_id(connection_id)
        display = clean_name(name) if name is not None else None
        meta = check_metadata(metadata) if metadata is not None else None
        replacement = None
        if display is not None and (fields is not None or config is not None):
            with self.ctx.refusals(actor, "connection.update", "connection", connection_id):
                self._check_name(actor, display, except_id=connection_id)
        if fields is not None or config is not None:
            opened = self.resolver.open(actor, connection_id)
            checked_at = self.ctx.now()
            columns, secret = self.check.replacement(opened, fields, config, validate, checked_at)
            replacement = columns, self.ctx.vault.seal(actor.project_id, connection_id, secret)
        now = self.ctx.now()
        with self.ctx.changing(actor, "connection.update", "connection", connection_id) as conn:
            row = rows.get(conn, actor.project_id, connection_id)
            if row is None:
                raise missing(connection_id)
            if is_default is not None:
                rows.lock_defaults(conn, actor.project_id, row.app_key)
                row = rows.get(conn, actor.project_id, connection_id)
                if row is None:
                    raise missing(connection_id)
            values: dict[str, Any] = {}
            changed = ["credentials"] if replacement is not None else []
            if display is not None and display != row.name:
                self.ctx.writer.check_name(conn, actor.project_id, display, except_id=connection_id)
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
            audit = self.ctx.event(
                actor, "connection.update", "connection", connection_id, changed=changed
            )
            if replacement is not None:
                self.ctx.writer.set_status(
                    conn,
                    actor.project_id,
                    connection_id,
                    Change.CREDENTIALS_REPLACED,
                    now,
                    values={**replacement[0], **values},
                    sealed=replacement[1],
                    audit=audit,
                )
            elif changed:
                self.ctx.writer.update(conn, actor.project_id, connection_id, values, now, audit)
        return self.get(actor, connection_id)

    def rename(self, actor: Actor, connection_id: str, name: str) -> Connection:
        authorize(actor, "rename_connection")
        return self.update(actor, connection_id, name=name)

    def set_default(self, actor: Actor, connection_id: str) -> Connection:
        authorize(actor, "set_default")
        return self.update(actor, connection_id, is_default=True)

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
        authorize(actor, "replace_credentials")
        return self.update(actor, connection_id, fields=fields, config=config, validate=validate)

    def delete(self, actor: Actor, connection_id: str, *, force: bool = False) -> Deleted:
        """Delete a connection; refused while flows use it, unless ``force``. An OAuth2 grant
        is then revoked at the provider (RFC 7009, ``oauth.revocation``), best effort."""
        authorize(actor, "delete_connection")
        check_id(connection_id)
        revocation = self._revocation(actor, connection_id)  # while the secret exists
        with self.ctx.changing(actor, "connection.delete", "connection", connection_id) as conn:
            row = rows.get(conn, actor.project_id, connection_id)
            if row is None:
                raise missing(connection_id)
            users = sorted({u.flow_name for u in flow_rows.using(conn, actor.project_id, row.id)})
            if users and not force:
                raise ConnectionInUse(
                    f"{row.name!r} is used by {len(users)} flow(s): {', '.join(users)}; "
                    "point them at another connection first, or delete anyway",
                    hint=Hint("force_delete", {"id": connection_id}),
                    flows=users,
                )
            audit = self.ctx.event(
                actor, "connection.delete", "connection", connection_id, app=row.app_key
            )
            if not self.ctx.writer.delete(conn, row, self.ctx.now(), audit):
                raise missing(connection_id)
        found = self.ctx.registry.find(actor.project_id, row.app_key)
        app_name = found.name if found is not None else row.app_key
        if row.is_default:
            message = (
                f"deleted {row.name!r}; it was the default {app_name} connection, and no "
                f"{app_name} connection is the default now: make one the default"
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
        self.ctx.audit.submit(
            self.ctx.event(
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

    def diagnose(
        self, actor: Actor, connection_id: str, required_scopes: Sequence[str] = ()
    ) -> Diagnosis:
        """Say whether the connection can serve a caller needing ``required_scopes``."""
        authorize(actor, "diagnose_connection")
        return diagnosis_of(self.get(actor, connection_id), required_scopes)

    def test(self, actor: Actor, connection_id: str) -> TestResult:
        """Run the app's test request; a refusal marks the connection inactive, success heals
        it (``service.connection_tests``: an OAuth2 token is refreshed once before deciding)."""
        authorize(actor, "test_connection")
        return self.tester.run(actor, connection_id)

    def audit_trail(
        self, actor: Actor, connection_id: str | None = None, limit: int = 100
    ) -> builtins.list[AuditEvent]:
        authorize(actor, "audit_trail")
        check_limit(limit, 500)
        if connection_id is not None:
            self.get(actor, connection_id)
        self.ctx.audit.flush()
        with self.ctx.db.read() as conn:
            found = audit_rows.events_for(conn, actor.project_id, connection_id, limit)
        return [audit_event_of(r) for r in found]

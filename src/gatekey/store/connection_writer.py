"""The one place a connection is written: its insert, its status changes and its removal.

Creating a connection, completing an OAuth authorization and importing one all insert through
``ConnectionWriter.insert``: the name check, the choice of the app's default, the columns, the
audit entry and the ``connection.created`` event, in the caller's transaction. Every change of
status goes through ``set_status``, which asks ``domain.connection.transition`` what the change
does to the row as it is now (read under a lock) and emits exactly the event it names, or none.
A name the unique index refuses at the last moment (another writer took it since the check)
ends in the same ``DuplicateName`` as the check itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from gatekey.crypto.envelope import Sealed
from gatekey.domain import webhooks as hooks
from gatekey.domain.connection import Change, Event, StatusChange, name_key, transition
from gatekey.errors import Conflict, DuplicateName, GatekeyError
from gatekey.store import audit as audit_rows
from gatekey.store import connections as rows
from gatekey.store import sealed as sealed_columns
from gatekey.store.audit import Event as AuditEvent
from gatekey.store.rows import ConnectionRow
from gatekey.store.webhooks import Outbox

T = TypeVar("T")
_DECIDED = frozenset(
    {"status", "status_reason", "status_message", "updated_at", "version", "name_key"}
    | set(rows.SECRET_COLUMNS)
)
"""Columns the writer writes itself: never among the ``values`` a caller passes."""


def duplicate(name: str) -> DuplicateName:
    """The error for a name another connection of the project has (whatever its case)."""
    return DuplicateName(f"a connection named {name!r} already exists")


@dataclass(frozen=True, slots=True)
class NewConnection:
    """A connection to insert. ``is_default``: True makes it the app's default; otherwise it
    becomes the default only when the app has none in the project."""

    id: str
    project_id: str
    app_key: str
    auth_kind: str
    name: str
    sealed: Sealed = field(repr=False)
    is_default: bool | None = None
    account_label: str | None = None
    scopes: Sequence[str] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    public_fields: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    expires_at: datetime | None = None
    last_refreshed_at: datetime | None = None
    oauth_client_id: str | None = None
    verified_at: datetime | None = None
    """When the provider accepted the credentials being stored; None: saved unchecked."""


class ConnectionWriter:
    """Inserts, status changes and removals of connections, each with its audit entry and its
    one webhook event, in the transaction the caller passes."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    def check_name(
        self, conn: Connection, project_id: str, name: str, *, except_id: str | None = None
    ) -> None:
        """Raise ``DuplicateName`` if another connection of the project has ``name``."""
        if rows.name_taken(conn, project_id, name_key(name), except_id=except_id):
            raise duplicate(name)

    def insert(
        self, conn: Connection, new: NewConnection, audit: AuditEvent, now: datetime
    ) -> bool:
        """Insert ``new``, record ``audit`` (with whether it became the default) and emit
        ``connection.created``; return whether it is the app's default now."""
        self.check_name(conn, new.project_id, new.name)
        rows.lock_defaults(conn, new.project_id, new.app_key)
        current = rows.default_for(conn, new.project_id, new.app_key)
        make_default = current is None or bool(new.is_default)
        if make_default and current is not None:
            rows.clear_default(conn, new.project_id, new.app_key, now)
        outcome = transition(None, Change.CREATED)
        values = {
            "id": new.id,
            "project_id": new.project_id,
            "app_key": new.app_key,
            "auth_kind": new.auth_kind,
            "name": new.name,
            "name_key": name_key(new.name),
            "status": outcome.status.value,
            "status_reason": None,
            "status_message": None,
            "is_default": make_default,
            "account_label": new.account_label,
            "scopes": list(new.scopes),
            "config": dict(new.config),
            "public_fields": dict(new.public_fields),
            "meta": dict(new.meta),
            **sealed_columns.columns(new.sealed),
            "expires_at": new.expires_at,
            "last_refreshed_at": new.last_refreshed_at,
            "oauth_client_id": new.oauth_client_id,
            "verified_at": new.verified_at,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        self._guarded(conn, new.project_id, new.name, lambda: rows.insert(conn, values))
        detail = {**audit.detail, "default": make_default}
        audit_rows.record_now(conn, [replace(audit, detail=detail)])
        self.announce(conn, new.project_id, new.id, outcome.event, now)
        return make_default

    def set_status(
        self,
        conn: Connection,
        project_id: str,
        connection_id: str,
        change: Change,
        now: datetime,
        *,
        message: str | None = None,
        values: Mapping[str, Any] | None = None,
        sealed: Sealed | None = None,
        audit: AuditEvent | None = None,
        lease_owner: str | None = None,
    ) -> StatusChange | None:
        """Apply ``change`` to the connection as it is now; return what it did.

        ``values`` are other columns written in the same statement (as with ``update``),
        ``sealed`` a new secret; ``audit`` is recorded and the change's event emitted only
        when the row is written. Return None, writing nothing, when the row is gone or, with
        ``lease_owner``, when that refresh no longer holds the row's lease (the write drops
        the lease).
        """
        before = rows.get(conn, project_id, connection_id, for_update=True)
        if before is None:
            return None
        outcome = transition(before.status, change, message)
        columns = {
            **_checked(values),
            **(sealed_columns.columns(sealed) if sealed is not None else {}),
            "status": outcome.status.value,
            "status_reason": outcome.reason.value if outcome.reason else None,
            "status_message": outcome.message,
            "updated_at": now,
        }
        if not self._write(conn, project_id, connection_id, columns, lease_owner):
            return None
        if audit is not None:
            audit_rows.record_now(conn, [audit])
        self.announce(conn, project_id, connection_id, outcome.event, now)
        return outcome

    def update(
        self,
        conn: Connection,
        project_id: str,
        connection_id: str,
        values: Mapping[str, Any],
        now: datetime,
        audit: AuditEvent,
    ) -> bool:
        """Change columns that are no status (a ``name``, checked by the unique index as it
        is written, ``is_default``, ``meta``) and record ``audit``; return whether the row
        was there. No event: none of these is news to webhook receivers."""
        columns = {**_checked(values), "updated_at": now}
        if not self._write(conn, project_id, connection_id, columns, None):
            return False
        audit_rows.record_now(conn, [audit])
        return True

    def delete(
        self, conn: Connection, row: ConnectionRow, now: datetime, audit: AuditEvent
    ) -> bool:
        """Remove the connection ``row`` was read from, record ``audit`` and emit
        ``connection.deleted`` saying what it was; return whether it was still there."""
        if not rows.remove(conn, row.project_id, row.id):
            return False
        audit_rows.record_now(conn, [audit])
        data = {"connection": hooks.connection_payload(row)}
        self._outbox.add(conn, row.project_id, Event.DELETED.value, data, now)
        return True

    def _write(
        self,
        conn: Connection,
        project_id: str,
        connection_id: str,
        columns: dict[str, Any],
        lease_owner: str | None,
    ) -> bool:
        """``set_values``; in a savepoint when a unique index may refuse it (``_guarded``)."""
        name = columns.get("name")
        if name is not None:
            columns["name_key"] = name_key(name)

        def write() -> bool:
            return rows.set_values(
                conn, project_id, connection_id, columns, lease_owner=lease_owner
            )

        if name is None and "is_default" not in columns:
            return write()
        return self._guarded(conn, project_id, name, write, except_id=connection_id)

    def announce(
        self,
        conn: Connection,
        project_id: str,
        connection_id: str,
        event: Event | None,
        now: datetime,
    ) -> None:
        """Emit ``event`` about the connection as the transaction sees it now (after the
        change), for the endpoints that want it. The writer's own methods call it; a caller
        that writes the row some other way (the refresh store) may too."""
        if event is None:
            return
        endpoints = self._outbox.subscribers(conn, project_id, event.value)
        if not endpoints:
            return
        row = rows.get(conn, project_id, connection_id)
        if row is not None:
            data = {"connection": hooks.connection_payload(row)}
            self._outbox.add(conn, project_id, event.value, data, now, endpoints=endpoints)

    @staticmethod
    def _guarded(
        conn: Connection,
        project_id: str,
        name: str | None,
        write: Callable[[], T],
        *,
        except_id: str | None = None,
    ) -> T:
        """Run ``write`` in a savepoint; a unique index (name, default per app) refusing it
        becomes ``DuplicateName`` when ``name`` is taken by now, else ``Conflict``. The
        savepoint keeps the transaction usable for that look (PostgreSQL aborts a transaction
        on an error, unless it rolls back to a savepoint)."""
        try:
            with conn.begin_nested():
                return write()
        except IntegrityError:
            error: GatekeyError = Conflict(
                "another change to the same connections happened at once; try again"
            )
            if name is not None and rows.name_taken(
                conn, project_id, name_key(name), except_id=except_id
            ):
                error = duplicate(name)
            raise error from None


def _checked(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """``values`` as columns to write, refusing those the writer decides itself."""
    extra = dict(values or {})
    if _DECIDED & extra.keys():
        raise ValueError(f"the writer writes {sorted(_DECIDED & extra.keys())} itself")
    return extra

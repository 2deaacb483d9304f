"""The hot path's reader: one connection with its secret, as close to the driver as it gets.

A credential resolution happens before every workflow step, so this read skips what a general
query pays for: the statement is compiled once per dialect, executed on a raw DBAPI connection
from the pool, outside an explicit transaction (a single SELECT is consistent on its own), and
only the columns that need it go through SQLAlchemy's result processors (JSON, datetimes).
On SQLite each thread keeps one connection of its own (detached from the pool, configured by
the same connect hook), since checking a connection in and out costs as much as the query.
A database that cannot be reached is reported as ``DatabaseUnavailable``, as ``Database`` does.

Three reads of one row, narrowest first: ``stamp`` (version and ciphertext, and the version
of the project's own app of that key: whether what a caller made of an earlier read still
holds), ``read`` (the ``SecretRow`` a resolution uses)
and ``whole`` (that row with its ``Details``, for messages, edits and refreshes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from sqlalchemy import JSON, bindparam, select

from gatekey.store.database import Database, outage, unavailable
from gatekey.store.tables import connections as t
from gatekey.store.tables import project_apps


def _memo_json(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Parse a JSON column once per distinct text (``config`` and ``scopes`` repeat across
    reads of a row); hand out a shallow copy so no caller can change the remembered value."""
    seen: dict[Any, Any] = {}

    def parse_once(raw: Any) -> Any:
        if not isinstance(raw, str | bytes):
            return parse(raw)
        value = seen.get(raw)
        if value is None:
            if len(seen) >= 4096:
                seen.clear()
            value = seen[raw] = parse(raw)
        return type(value)(value) if isinstance(value, dict | list) else value

    return parse_once


class SecretRow(NamedTuple):
    """A connection as a credential resolution sees it: the one row type of the hot path.

    Only the columns a resolution uses (the id and project come from the query's own
    parameters); what only error messages, edits and refreshes need is in ``Details``, read
    with ``whole``. Every column read costs a resolution about 0.15 µs on SQLite.
    """

    id: str
    project_id: str
    app_key: str
    auth_kind: str
    status: str
    config: dict[str, Any]
    expires_at: Any
    secret_ciphertext: bytes
    dek_wrapped: bytes
    kek_id: str
    scopes: list[str]
    version: int
    last_refreshed_at: Any

    def __repr__(self) -> str:
        return f"SecretRow(id={self.id!r}, kek_id={self.kek_id!r})"


class Details(NamedTuple):
    """The rest of a connection's row that its sealed-secret readers use: names and status
    details for messages, the account label for edits, the OAuth client and refresh
    bookkeeping for refreshes."""

    name: str
    status_reason: str | None
    status_message: str | None
    account_label: str | None
    oauth_client_id: str | None
    refresh_lease_until: Any
    refresh_retry_at: Any
    refresh_failures: int


Stamp = tuple[int, bytes, int | None]
"""(version, ciphertext, project app version): what says whether something derived from a row
still holds, since every change to the columns of ``SecretRow`` bumps the version or writes a
new ciphertext, and every change to the project's own app of that key bumps its version (None:
the project has no app of that key)."""


_ROW = tuple(getattr(t.c, name) for name in SecretRow._fields[2:])
_DETAILS = tuple(getattr(t.c, name) for name in Details._fields)
_APP_VERSION = (
    select(project_apps.c.version)
    .where(project_apps.c.project_id == t.c.project_id, project_apps.c.key == t.c.app_key)
    .scalar_subquery()
)
_STAMP = (t.c.version, t.c.secret_ciphertext, _APP_VERSION)
_SPLIT = len(_ROW)


class _Query:
    """One SELECT by (project, id), compiled once, with the result processors it needs."""

    def __init__(self, columns: tuple[Any, ...], dialect: Any) -> None:
        statement = select(*columns).where(
            t.c.id == bindparam("cid"), t.c.project_id == bindparam("pid")
        )
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        order = compiled.positiontup if compiled.positional else None
        self.id_first = order is not None and order[0] == "cid"
        self.positional = order is not None
        processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        self.processed = [
            (i, _memo_json(p) if isinstance(columns[i].type, JSON) else p)
            for i, p in enumerate(processors)
            if p is not None
        ]

    def params(self, project_id: str, connection_id: str) -> Any:
        if not self.positional:
            return {"cid": connection_id, "pid": project_id}
        return (connection_id, project_id) if self.id_first else (project_id, connection_id)

    def process(self, row: Any) -> list[Any]:
        values = list(row)
        for index, processor in self.processed:
            if values[index] is not None:
                values[index] = processor(values[index])
        return values


class SecretReader:
    """Reads a connection's ``SecretRow`` (with its ``Details``, or only its ``Stamp``) by
    (project, id) with one round trip and no ORM work."""

    def __init__(self, db: Database) -> None:
        self._engine = db.engine
        dialect = db.engine.dialect
        self._row = _Query(_ROW, dialect)
        self._whole = _Query(_ROW + _DETAILS, dialect)
        self._stamp = _Query(_STAMP, dialect)
        assert not self._stamp.processed, "a stamp is compared as the driver returns it"
        self._sqlite = dialect.name == "sqlite"
        self.local = self._sqlite
        """Whether a read never waits on a network (SQLite: a file of this machine)."""
        assert not self._sqlite or all(q.id_first for q in (self._row, self._whole, self._stamp))
        self._local = threading.local()
        self._owned: list[Any] = []
        self._owned_lock = threading.Lock()

    def _thread_connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            fairy = self._engine.raw_connection()
            fairy.detach()
            connection = fairy.dbapi_connection
            self._local.connection = connection
            with self._owned_lock:
                self._owned.append(connection)
        return connection

    def _fetch(self, query: _Query, project_id: str, connection_id: str) -> Any:
        if self._sqlite:  # qmark, id first (the statement's own order): checked in __init__
            params: Any = (connection_id, project_id)
        else:
            params = query.params(project_id, connection_id)
        try:
            if self._sqlite:
                connection = getattr(self._local, "connection", None)
                if connection is None:
                    connection = self._thread_connection()
                return connection.execute(query.sql, params).fetchone()
            return self._fetch_pooled(query.sql, params)
        except Exception as exc:
            if unavailable(exc):
                raise outage() from exc
            raise

    def _fetch_pooled(self, sql: str, params: Any) -> Any:
        # one round trip: the pooled connection reads in autocommit (no BEGIN, no ROLLBACK;
        # a lone SELECT is consistent on its own) and goes back as it came, or, when the
        # database went away under it, is thrown away so the pool opens a new one
        raw = self._engine.raw_connection()
        dbapi: Any = raw.dbapi_connection
        try:
            dbapi.autocommit = True
            cursor = raw.cursor()
            cursor.execute(sql, params)
            row = cursor.fetchone()
            cursor.close()
            dbapi.autocommit = False
        except BaseException as exc:
            if unavailable(exc):
                raw.invalidate(exc)
            else:
                dbapi.autocommit = False
            raise
        finally:
            raw.close()
        return row

    def stamp(self, project_id: str, connection_id: str) -> Stamp | None:
        """The row's version and ciphertext, and its project app's version: enough to tell
        whether a reading made from an earlier ``read`` of it still holds."""
        row: Stamp | None = self._fetch(self._stamp, project_id, connection_id)
        return row  # both drivers hand these columns over as they are (no processors)

    def read(self, project_id: str, connection_id: str) -> SecretRow | None:
        row = self._fetch(self._row, project_id, connection_id)
        if row is None:
            return None
        return SecretRow(connection_id, project_id, *self._row.process(row))

    def whole(self, project_id: str, connection_id: str) -> tuple[SecretRow, Details] | None:
        """The row with its details, in one read (both from the same state of the row)."""
        row = self._fetch(self._whole, project_id, connection_id)
        if row is None:
            return None
        values = self._whole.process(row)
        return (
            SecretRow(connection_id, project_id, *values[:_SPLIT]),
            Details(*values[_SPLIT:]),
        )

    def close(self) -> None:
        """Close the per-thread SQLite connections."""
        with self._owned_lock:
            owned, self._owned = self._owned, []
        for connection in owned:
            connection.close()
        self._local = threading.local()

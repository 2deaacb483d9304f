"""SQL for the ``connections`` table; every query is scoped by project."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Select, and_, bindparam, delete, func, or_, select, update

from gatekey.store import sealed
from gatekey.store.rows import ConnectionRow, RefreshCandidateRow
from gatekey.store.tables import connections as t

SECRET_COLUMNS = sealed.COLUMNS
_PUBLIC = sealed.public_columns(t)


def insert(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(t.insert().values(**values))


def get(
    conn: Connection, project_id: str, connection_id: str, *, for_update: bool = False
) -> ConnectionRow | None:
    """The row, or None; ``for_update`` locks it until the transaction ends (PostgreSQL;
    SQLite writers are serialised already)."""
    query = select(*_PUBLIC).where(t.c.id == connection_id, t.c.project_id == project_id)
    if for_update:
        query = query.with_for_update()
    return ConnectionRow.first_of(conn.execute(query))


def names(conn: Connection, project_id: str, connection_ids: Iterable[str]) -> dict[str, str]:
    """The names of those of ``connection_ids`` that are the project's connections."""
    wanted = sorted(set(connection_ids))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):  # bounded IN lists
        chunk = wanted[start : start + 500]
        query = select(t.c.id, t.c.name).where(t.c.project_id == project_id, t.c.id.in_(chunk))
        found.update({row.id: row.name for row in conn.execute(query)})
    return found


def page(
    conn: Connection,
    project_id: str,
    *,
    status: str | None,
    app_key: str | None,
    text: str | None,
    after: str | None,
    limit: int,
) -> list[ConnectionRow]:
    """Return up to ``limit`` rows ordered by id (creation order), after the cursor id."""
    query = select(*_PUBLIC).where(t.c.project_id == project_id)
    if status is not None:
        query = query.where(t.c.status == status)
    if app_key is not None:
        query = query.where(t.c.app_key == app_key)
    if text:
        needle = text.casefold()
        query = query.where(
            or_(
                t.c.name_key.contains(needle, autoescape=True),
                func.lower(t.c.account_label).contains(needle, autoescape=True),
                t.c.app_key.contains(needle, autoescape=True),
                t.c.id == text,
            )
        )
    if after is not None:
        query = query.where(t.c.id > after)
    return ConnectionRow.all_of(conn.execute(query.order_by(t.c.id).limit(limit)))


def name_taken(conn: Connection, project_id: str, name_key: str, *, except_id: str | None) -> bool:
    query = select(t.c.id).where(t.c.project_id == project_id, t.c.name_key == name_key)
    if except_id is not None:
        query = query.where(t.c.id != except_id)
    return conn.execute(query.limit(1)).first() is not None


def lock_defaults(conn: Connection, project_id: str, app_key: str) -> None:
    """Serialise changes to the default of one app in one project until the transaction ends.

    PostgreSQL takes a transaction-scoped advisory lock; SQLite writers are already serialised
    by ``BEGIN IMMEDIATE``.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(f"{project_id}/{app_key}", 0)))
        )


def default_for(conn: Connection, project_id: str, app_key: str) -> str | None:
    query = select(t.c.id).where(
        t.c.project_id == project_id, t.c.app_key == app_key, t.c.is_default.is_(True)
    )
    return conn.execute(query).scalar()


def set_values(
    conn: Connection,
    project_id: str,
    connection_id: str,
    values: Mapping[str, Any],
    *,
    lease_owner: str | None = None,
) -> bool:
    """Update a row and bump its version; return whether it existed.

    With ``lease_owner``, only while that refresh holds the row's lease, which it drops.
    """
    query = update(t).where(t.c.id == connection_id, t.c.project_id == project_id)
    extra: dict[str, Any] = {}
    if lease_owner is not None:
        query = query.where(t.c.refresh_lease_owner == lease_owner)
        extra = {"refresh_lease_owner": None, "refresh_lease_until": None}
    result = conn.execute(query.values(**values, **extra, version=t.c.version + 1))
    return result.rowcount == 1


def clear_default(conn: Connection, project_id: str, app_key: str, now: datetime) -> None:
    conn.execute(
        update(t)
        .where(t.c.project_id == project_id, t.c.app_key == app_key, t.c.is_default.is_(True))
        .values(is_default=False, updated_at=now, version=t.c.version + 1)
    )


def remove(conn: Connection, project_id: str, connection_id: str) -> bool:
    result = conn.execute(delete(t).where(t.c.id == connection_id, t.c.project_id == project_id))
    return result.rowcount == 1


def touch(conn: Connection, last_used: Mapping[str, datetime]) -> None:
    """Record ``last_used_at`` for many connections in one statement batch.

    Rows are updated in id order, the order every other multi-row locker (the master-key
    rewrap) takes them in, so two such transactions never deadlock on PostgreSQL.
    """
    if not last_used:
        return
    statement = (
        update(t)
        .where(t.c.id == bindparam("cid"))
        .where(or_(t.c.last_used_at.is_(None), t.c.last_used_at < bindparam("used")))
        .values(last_used_at=bindparam("used"))
    )
    conn.execute(statement, [{"cid": cid, "used": at} for cid, at in sorted(last_used.items())])


def claim_refresh(
    conn: Connection,
    connection_id: str,
    *,
    version: int,
    owner: str,
    until: datetime,
    now: datetime,
) -> bool:
    """Take the refresh lease if the row is still at ``version`` and nobody holds a live lease.

    A compare-and-swap in one statement: across threads, processes and replicas exactly one
    caller wins, and the winner knows the token set it read is the current one.
    """
    result = conn.execute(
        update(t)
        .where(
            t.c.id == connection_id,
            t.c.version == version,
            or_(t.c.refresh_lease_until.is_(None), t.c.refresh_lease_until < now),
        )
        .values(refresh_lease_owner=owner, refresh_lease_until=until)
    )
    return result.rowcount == 1


def finish_refresh(
    conn: Connection, connection_id: str, owner: str, values: Mapping[str, Any], *, bump: bool
) -> bool:
    """Write the outcome of a refresh and drop the lease, if the caller still holds it."""
    extra: dict[str, Any] = {"version": t.c.version + 1} if bump else {}
    result = conn.execute(
        update(t)
        .where(t.c.id == connection_id, t.c.refresh_lease_owner == owner)
        .values(**values, **extra, refresh_lease_owner=None, refresh_lease_until=None)
    )
    return result.rowcount == 1


Stored = Literal["stored", "stored_before", "refused"]


def store_refresh(
    conn: Connection,
    connection_id: str,
    *,
    read_sealed: bytes,
    new_sealed: bytes,
    values: Mapping[str, Any],
) -> Stored:
    """Write a refreshed token set in place of the one it was refreshed from, bump the version
    and drop the lease, whoever holds it by now.

    The row must still hold the sealed token set the refresh started from (``read_sealed``:
    every new token set is sealed afresh, a rewrap leaves it as it is). That holds while the
    refresh keeps its lease, and also after the lease lapsed (a slow provider, a database
    outage) as long as nobody stored another token set: the provider may have rotated the
    refresh token, and the new one exists nowhere else. ``stored_before``: the row holds
    ``new_sealed`` already, written by an earlier attempt whose commit was never acknowledged.
    ``refused``: another token set (a sibling's refresh, a reconnect) came first, or the row
    is gone.
    """
    result = conn.execute(
        update(t)
        .where(t.c.id == connection_id, t.c.secret_ciphertext == read_sealed)
        .values(
            **values,
            version=t.c.version + 1,
            refresh_lease_owner=None,
            refresh_lease_until=None,
        )
    )
    if result.rowcount == 1:
        return "stored"
    held = conn.execute(select(t.c.secret_ciphertext).where(t.c.id == connection_id)).scalar()
    return "stored_before" if held == new_sealed else "refused"


def refresh_candidates(
    conn: Connection,
    *,
    due_before: datetime,
    idle_before: datetime,
    limit: int,
    after: tuple[datetime | None, str] | None = None,
) -> list[RefreshCandidateRow]:
    """Return active OAuth2 connections whose token expires soon or whose grant sits idle,
    soonest expiry first (no expiry last), one page of ``limit`` past the ``after`` row's
    ``(expires_at, id)``."""
    query: Select[Any] = select(
        t.c.id,
        t.c.project_id,
        t.c.app_key,
        t.c.auth_kind,
        t.c.expires_at,
        t.c.last_refreshed_at,
    ).where(
        t.c.status == "active",
        t.c.auth_kind.in_(("oauth2", "oauth2_client_credentials")),
        or_(
            t.c.expires_at < due_before,
            t.c.last_refreshed_at < idle_before,
        ),
    )
    if after is not None:
        expires, last_id = after
        if expires is None:
            query = query.where(t.c.expires_at.is_(None), t.c.id > last_id)
        else:
            query = query.where(
                or_(
                    t.c.expires_at > expires,
                    and_(t.c.expires_at == expires, t.c.id > last_id),
                    t.c.expires_at.is_(None),
                )
            )
    query = query.order_by(t.c.expires_at.asc().nulls_last(), t.c.id).limit(limit)
    return RefreshCandidateRow.all_of(conn.execute(query))

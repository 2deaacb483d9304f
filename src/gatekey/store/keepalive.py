"""SQL for keeping alive credentials a provider deactivates when idle (``service.keepalive``).

A connection's last use is the latest of ``last_used_at`` (a credential read), ``verified_at``
(the provider accepted it) and ``created_at``. A sweep lists the active connections unused
since a cutoff that no sweep holds, then claims each one with a guarded UPDATE: across
threads, processes and replicas (SQLite serialises writers; PostgreSQL re-checks the WHERE
on the row it waited for) exactly one caller wins a connection until its claim ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select, update

from gatekey.store.rows import KeepAliveCandidateRow
from gatekey.store.tables import connections as t

_NOT_KEPT = ("oauth2", "oauth2_client_credentials")
"""OAuth2 grants are kept alive by refreshing them (``workers.refresher``)."""


def unused_since(cutoff: datetime) -> ColumnElement[bool]:
    """Whether the connection's last use (read, check or creation) is before ``cutoff``."""
    return and_(
        or_(t.c.last_used_at.is_(None), t.c.last_used_at < cutoff),
        or_(t.c.verified_at.is_(None), t.c.verified_at < cutoff),
        t.c.created_at < cutoff,
    )


def _unclaimed(now: datetime) -> ColumnElement[bool]:
    return or_(t.c.keepalive_until.is_(None), t.c.keepalive_until <= now)


def candidates(
    conn: Connection,
    *,
    unused_before: datetime,
    now: datetime,
    keys: Sequence[str],
    known: Sequence[str],
    after: str | None,
    limit: int,
) -> list[KeepAliveCandidateRow]:
    """Active, unclaimed connections unused since ``unused_before`` whose app is one of
    ``keys`` or none of ``known`` (a project's own app), by id, past ``after``."""
    query: Any = select(
        t.c.id,
        t.c.project_id,
        t.c.app_key,
        t.c.auth_kind,
        t.c.last_used_at,
        t.c.verified_at,
        t.c.created_at,
    ).where(
        t.c.status == "active",
        t.c.auth_kind.not_in(_NOT_KEPT),
        or_(t.c.app_key.in_(list(keys)), t.c.app_key.not_in(list(known))),
        unused_since(unused_before),
        _unclaimed(now),
    )
    if after is not None:
        query = query.where(t.c.id > after)
    return KeepAliveCandidateRow.all_of(conn.execute(query.order_by(t.c.id).limit(limit)))


def claim(
    conn: Connection,
    project_id: str,
    connection_id: str,
    *,
    unused_before: datetime,
    now: datetime,
    until: datetime,
) -> bool:
    """Claim the connection for a keep-alive until ``until``, if it is still active, unused
    since ``unused_before`` and nobody holds a claim; return whether this caller won."""
    result = conn.execute(
        update(t)
        .where(
            t.c.id == connection_id,
            t.c.project_id == project_id,
            t.c.status == "active",
            unused_since(unused_before),
            _unclaimed(now),
        )
        .values(keepalive_until=until)
    )
    return result.rowcount == 1


def failed(conn: Connection, project_id: str, connection_id: str, at: datetime) -> None:
    """Record that a keep-alive could not reach the provider at ``at``."""
    conn.execute(
        update(t)
        .where(t.c.id == connection_id, t.c.project_id == project_id)
        .values(keepalive_failed_at=at)
    )

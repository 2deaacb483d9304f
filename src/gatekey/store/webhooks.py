"""SQL for webhook endpoints and their deliveries (the outbox)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, or_, select, update

from gatekey.store.tables import webhook_deliveries, webhook_endpoints


def insert_endpoint(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(webhook_endpoints.insert().values(**values))


def endpoint(conn: Connection, project_id: str, endpoint_id: str) -> Row[Any] | None:
    query = select(webhook_endpoints).where(
        webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.project_id == project_id
    )
    return conn.execute(query).first()


def endpoints_of(conn: Connection, project_id: str) -> Sequence[Row[Any]]:
    query = (
        select(webhook_endpoints)
        .where(webhook_endpoints.c.project_id == project_id)
        .order_by(webhook_endpoints.c.id)
    )
    found: Sequence[Row[Any]] = conn.execute(query).all()
    return found


def remove_endpoint(conn: Connection, project_id: str, endpoint_id: str) -> bool:
    conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.endpoint_id == endpoint_id))
    result = conn.execute(
        delete(webhook_endpoints).where(
            webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.project_id == project_id
        )
    )
    return result.rowcount == 1


def enqueue(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        conn.execute(webhook_deliveries.insert(), [dict(r) for r in rows])


def due(conn: Connection, now: datetime, limit: int) -> Sequence[Row[Any]]:
    """Pending deliveries whose time has come and that nobody holds a live claim on."""
    query = (
        select(webhook_deliveries.c.id)
        .where(
            webhook_deliveries.c.status == "pending",
            webhook_deliveries.c.next_attempt_at <= now,
            or_(
                webhook_deliveries.c.claimed_until.is_(None),
                webhook_deliveries.c.claimed_until < now,
            ),
        )
        .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
        .limit(limit)
    )
    found: Sequence[Row[Any]] = conn.execute(query).all()
    return found


def claim(conn: Connection, delivery_id: str, now: datetime, until: datetime) -> bool:
    """Take a delivery for ``until`` (compare-and-swap: one claimer wins across processes)."""
    result = conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.status == "pending",
            or_(
                webhook_deliveries.c.claimed_until.is_(None),
                webhook_deliveries.c.claimed_until < now,
            ),
        )
        .values(claimed_until=until)
    )
    return result.rowcount == 1


def delivery_with_endpoint(conn: Connection, delivery_id: str) -> Row[Any] | None:
    query = (
        select(
            webhook_deliveries,
            webhook_endpoints.c.url,
            webhook_endpoints.c.secret_ciphertext,
            webhook_endpoints.c.dek_wrapped,
            webhook_endpoints.c.kek_id,
        )
        .join(webhook_endpoints, webhook_endpoints.c.id == webhook_deliveries.c.endpoint_id)
        .where(webhook_deliveries.c.id == delivery_id)
    )
    return conn.execute(query).first()


def finish(conn: Connection, delivery_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id)
        .values(**values, claimed_until=None)
    )


def deliveries_of(conn: Connection, endpoint_id: str, limit: int) -> Sequence[Row[Any]]:
    query = (
        select(webhook_deliveries)
        .where(webhook_deliveries.c.endpoint_id == endpoint_id)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(limit)
    )
    found: Sequence[Row[Any]] = conn.execute(query).all()
    return found


def counts_of(conn: Connection, endpoint_id: str) -> dict[str, int]:
    query = (
        select(webhook_deliveries.c.status, func.count())
        .where(webhook_deliveries.c.endpoint_id == endpoint_id)
        .group_by(webhook_deliveries.c.status)
    )
    return {str(status): int(count) for status, count in conn.execute(query).all()}


def subscribed(conn: Connection, project_id: str, event_type: str) -> list[str]:
    """Ids of the project's endpoints that want ``event_type`` (or every event)."""
    rows = conn.execute(
        select(webhook_endpoints.c.id, webhook_endpoints.c.events).where(
            and_(webhook_endpoints.c.project_id == project_id)
        )
    ).all()
    return [r.id for r in rows if "*" in r.events or event_type in r.events]

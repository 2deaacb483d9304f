"""SQL for webhook endpoints and their deliveries (the outbox)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from gatekey import ids
from gatekey.domain import webhooks as hooks
from gatekey.store import sealed
from gatekey.store.tables import webhook_deliveries, webhook_endpoints
from gatekey.store.webhook_rows import DeliveryRow, DeliveryToSend, EndpointRow

_ENDPOINT_PUBLIC = sealed.public_columns(webhook_endpoints)


class Outbox:
    """Queues webhook events in the transaction of the change they report.

    The change and its deliveries commit together or not at all, so a receiver never hears of
    a change that was rolled back, and never misses one that was committed (transactional
    outbox); the dispatcher sends them later. The one way events are written.
    """

    def subscribers(self, conn: Connection, project_id: str, event_type: str) -> list[str]:
        """The project's endpoints that want ``event_type``."""
        return subscribed(conn, project_id, event_type)

    def add(
        self,
        conn: Connection,
        project_id: str,
        event_type: str,
        data: Mapping[str, Any],
        now: datetime,
        *,
        endpoints: Sequence[str] | None = None,
    ) -> int:
        """Queue one event for ``endpoints`` (None: the project's endpoints subscribed to
        ``event_type``); return how many deliveries were queued."""
        targets = subscribed(conn, project_id, event_type) if endpoints is None else endpoints
        if not targets:
            return 0
        event_id = ids.new_id("evt")
        body = hooks.body(event_id, event_type, now, data)
        enqueue(
            conn,
            [
                {
                    "id": ids.new_id("whd"),
                    "endpoint_id": endpoint_id,
                    "project_id": project_id,
                    "event_id": event_id,
                    "event_type": event_type,
                    "body": body,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for endpoint_id in targets
            ],
        )
        return len(targets)


def insert_endpoint(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(webhook_endpoints.insert().values(**values))


def endpoint(conn: Connection, project_id: str, endpoint_id: str) -> EndpointRow | None:
    """Return the endpoint, without its sealed secret."""
    query = select(*_ENDPOINT_PUBLIC).where(
        webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.project_id == project_id
    )
    return EndpointRow.first_of(conn.execute(query))


def endpoints_of(conn: Connection, project_id: str) -> list[EndpointRow]:
    query = (
        select(*_ENDPOINT_PUBLIC)
        .where(webhook_endpoints.c.project_id == project_id)
        .order_by(webhook_endpoints.c.id)
    )
    return EndpointRow.all_of(conn.execute(query))


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


_ROUNDS = 4
"""Batches ranked per claim when concurrent claimers hold the best ones (PostgreSQL)."""


def claim_due(
    conn: Connection, now: datetime, until: datetime, *, limit: int, per_project: int
) -> list[str]:
    """Claim up to ``limit`` due deliveries until ``until``, fairly across projects; return
    their ids in the order to send them.

    Round-robin by project: each project's due deliveries are ranked oldest first, and the batch
    takes every project's first before any project's second (smaller backlogs first among
    equals), at most ``per_project`` of one project. So one project's backlog or failing
    endpoint never pushes another project's delivery past the next batch. The claim is a
    compare-and-swap (one claimer wins across processes and replicas); on PostgreSQL the rows are
    also locked ``FOR UPDATE SKIP LOCKED``, so concurrent claimers take different deliveries
    instead of waiting for each other.
    """
    d = webhook_deliveries
    unclaimed = or_(d.c.claimed_until.is_(None), d.c.claimed_until < now)
    held: list[str] = []  # locked by a concurrent claimer: rank without them
    for _ in range(_ROUNDS):
        due = [d.c.status == "pending", d.c.next_attempt_at <= now, unclaimed]
        if held:
            due.append(d.c.id.not_in(held))
        ranked = (
            select(
                d.c.id,
                d.c.next_attempt_at,
                func.row_number()
                .over(partition_by=d.c.project_id, order_by=(d.c.next_attempt_at, d.c.id))
                .label("turn"),
                func.count().over(partition_by=d.c.project_id).label("backlog"),
            )
            .where(*due)
            .subquery()
        )
        fair = (
            select(ranked.c.id)
            .where(ranked.c.turn <= per_project)
            .order_by(ranked.c.turn, ranked.c.backlog, ranked.c.next_attempt_at, ranked.c.id)
            .limit(limit)
        )
        order = [str(r) for r in conn.execute(fair).scalars()]
        if not order or conn.dialect.name != "postgresql":
            break
        free = select(d.c.id).where(d.c.id.in_(order), d.c.status == "pending", unclaimed)
        locked = {str(r) for r in conn.execute(free.with_for_update(skip_locked=True)).scalars()}
        held.extend(i for i in order if i not in locked)
        order = [i for i in order if i in locked]
        if order:
            break
    if not order:
        return []
    taken = conn.execute(
        update(d)
        .where(d.c.id.in_(order), d.c.status == "pending", unclaimed)
        .values(claimed_until=until)
        .returning(d.c.id)
    ).scalars()
    won = {str(r) for r in taken}
    return [i for i in order if i in won]


def delivery_with_endpoint(conn: Connection, delivery_id: str) -> DeliveryToSend | None:
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
    return DeliveryToSend.first_of(conn.execute(query))


def finish(conn: Connection, delivery_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id)
        .values(**values, claimed_until=None)
    )


def deliveries_of(conn: Connection, endpoint_id: str, limit: int) -> list[DeliveryRow]:
    """The endpoint's deliveries, newest first."""
    query = (
        select(webhook_deliveries)
        .where(webhook_deliveries.c.endpoint_id == endpoint_id)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(limit)
    )
    return DeliveryRow.all_of(conn.execute(query))


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

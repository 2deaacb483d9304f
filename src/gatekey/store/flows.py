"""SQL for flows and their per-step connection references (``flow_refs``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Select, and_, delete, func, or_, select, update

from gatekey.store.flow_rows import FlowRefRow, FlowRow, FlowUseRow
from gatekey.store.tables import connections, flow_refs, flows


def insert(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(flows.insert().values(**values))


def get(conn: Connection, project_id: str, flow_id: str) -> FlowRow | None:
    query = select(flows).where(flows.c.id == flow_id, flows.c.project_id == project_id)
    return FlowRow.first_of(conn.execute(query))


def all_of(conn: Connection, project_id: str) -> list[FlowRow]:
    query = select(flows).where(flows.c.project_id == project_id).order_by(flows.c.id)
    return FlowRow.all_of(conn.execute(query))


def name_taken(conn: Connection, project_id: str, name_key: str, except_id: str | None) -> bool:
    query = select(flows.c.id).where(flows.c.project_id == project_id, flows.c.name_key == name_key)
    if except_id is not None:
        query = query.where(flows.c.id != except_id)
    return conn.execute(query.limit(1)).first() is not None


def set_values(conn: Connection, project_id: str, flow_id: str, values: Mapping[str, Any]) -> bool:
    result = conn.execute(
        update(flows)
        .where(flows.c.id == flow_id, flows.c.project_id == project_id)
        .values(**values, version=flows.c.version + 1)
    )
    return result.rowcount == 1


def remove(conn: Connection, project_id: str, flow_id: str) -> bool:
    conn.execute(delete(flow_refs).where(flow_refs.c.flow_id == flow_id))
    result = conn.execute(
        delete(flows).where(flows.c.id == flow_id, flows.c.project_id == project_id)
    )
    return result.rowcount == 1


def replace_refs(
    conn: Connection, project_id: str, flow_id: str, refs: Iterable[tuple[str, str, str | None]]
) -> None:
    """Store which connection each step uses: (step id, app, connection id or None)."""
    conn.execute(delete(flow_refs).where(flow_refs.c.flow_id == flow_id))
    rows = [
        {
            "flow_id": flow_id,
            "project_id": project_id,
            "step_id": step,
            "app_key": app,
            "connection_id": cid,
        }
        for step, app, cid in refs
    ]
    if rows:
        conn.execute(flow_refs.insert(), rows)


def _uses(project_id: str) -> Any:
    """Join condition: a ref uses a connection by id, or as the default of its app."""
    return and_(
        flow_refs.c.project_id == project_id,
        connections.c.project_id == project_id,
        or_(
            flow_refs.c.connection_id == connections.c.id,
            and_(
                flow_refs.c.connection_id.is_(None),
                flow_refs.c.app_key == connections.c.app_key,
                connections.c.is_default.is_(True),
            ),
        ),
    )


def using(conn: Connection, project_id: str, connection_id: str) -> list[FlowUseRow]:
    """Return every step using the connection, by flow then step."""
    query = (
        select(
            flows.c.id.label("flow_id"),
            flows.c.name.label("flow_name"),
            flow_refs.c.step_id,
            flow_refs.c.connection_id.is_(None).label("by_default"),
        )
        .select_from(flow_refs.join(flows, flows.c.id == flow_refs.c.flow_id))
        .join(connections, _uses(project_id))
        .where(connections.c.id == connection_id)
        .order_by(flows.c.id, flow_refs.c.step_id)
    )
    return [
        FlowUseRow(r.flow_id, r.flow_name, r.step_id, bool(r.by_default))
        for r in conn.execute(query)
    ]


def flow_counts(conn: Connection, project_id: str, connection_ids: list[str]) -> dict[str, int]:
    """Return how many flows use each of these connections."""
    if not connection_ids:
        return {}
    query = (
        select(connections.c.id, func.count(func.distinct(flow_refs.c.flow_id)))
        .select_from(flow_refs)
        .join(connections, _uses(project_id))
        .where(connections.c.id.in_(connection_ids))
        .group_by(connections.c.id)
    )
    return {row[0]: int(row[1]) for row in conn.execute(query).all()}


def connections_of(conn: Connection, project_id: str, flow_id: str) -> list[FlowRefRow]:
    """Return which connection each step of a flow uses, by step id."""
    query: Select[Any] = (
        select(flow_refs.c.step_id, flow_refs.c.app_key, flow_refs.c.connection_id)
        .where(flow_refs.c.flow_id == flow_id, flow_refs.c.project_id == project_id)
        .order_by(flow_refs.c.step_id)
    )
    return FlowRefRow.all_of(conn.execute(query))


def move_refs(conn: Connection, flow_id: str, old: str, new: str) -> None:
    conn.execute(
        update(flow_refs)
        .where(flow_refs.c.flow_id == flow_id, flow_refs.c.connection_id == old)
        .values(connection_id=new)
    )


def by_webhook(conn: Connection, webhook_hash: str) -> FlowRow | None:
    return FlowRow.first_of(conn.execute(select(flows).where(flows.c.webhook_hash == webhook_hash)))

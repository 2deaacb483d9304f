"""Rows the tests look at or move: counting a table's rows (a refusal wrote nothing), and a
connection's token made due (a renewal next)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Table, func, select, update

from gatekey.store.tables import connections

if TYPE_CHECKING:
    from gatekey.service import Service


def count(service: Service, table: Table) -> int:
    """How many rows ``table`` holds, every project's."""
    with service.context.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def expire_token(service: Service, connection_id: str) -> None:
    """Make the connection's token expired five seconds ago (and its row a new version, as
    a rotation would), so the next resolution renews it."""
    with service.context.db.write() as conn:
        conn.execute(
            update(connections)
            .where(connections.c.id == connection_id)
            .values(
                expires_at=datetime.now(UTC) - timedelta(seconds=5),
                version=connections.c.version + 1,
            )
        )

"""Counting a table's rows, for the tests that check a refusal wrote nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Table, func, select

if TYPE_CHECKING:
    from gatekey.service import Service


def count(service: Service, table: Table) -> int:
    """How many rows ``table`` holds, every project's."""
    with service.context.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

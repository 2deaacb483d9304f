"""SQL over every table holding a sealed payload (``tables.SEALED_TABLES``): the envelope
columns read and written, key usage, rewrap.

Each such table has ``id``, ``project_id`` and the three envelope columns; the envelope's
binding is (project, row id), so a rewrap never needs to know what the payload is. ``COLUMNS``
names the three columns: ``columns`` writes them, ``sealed_of`` reads them back from a record
and ``public_columns`` leaves them out of what lists and shows read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Column, Connection, Select, Table, bindparam, func, select, update

from gatekey.crypto.envelope import Sealed
from gatekey.store.rows import SealedRow
from gatekey.store.tables import SEALED_TABLES

COLUMNS = ("secret_ciphertext", "dek_wrapped", "kek_id")
"""The envelope columns of every sealed table."""


class Enveloped(Protocol):
    """A record that carries the envelope columns of its row."""

    @property
    def secret_ciphertext(self) -> bytes: ...
    @property
    def dek_wrapped(self) -> bytes: ...
    @property
    def kek_id(self) -> str: ...


def public_columns(table: Table) -> list[Column[Any]]:
    """The columns of a sealed table but its envelope: what lists and shows read."""
    return [c for c in table.c if c.name not in COLUMNS]


def columns(box: Sealed) -> dict[str, Any]:
    """The column values that store ``box`` in a row of any sealed table."""
    return {
        "secret_ciphertext": box.ciphertext,
        "dek_wrapped": box.wrapped_key,
        "kek_id": box.key_id,
    }


def sealed_of(row: Enveloped) -> Sealed:
    """Return the sealed payload of a record that has the three envelope columns."""
    return Sealed(ciphertext=row.secret_ciphertext, wrapped_key=row.dek_wrapped, key_id=row.kek_id)


def key_usage(conn: Connection) -> dict[str, int]:
    """Return how many data keys each master key wraps, over every sealed table."""
    usage: dict[str, int] = {}
    for table in SEALED_TABLES:
        for kek_id, count in conn.execute(
            select(table.c.kek_id, func.count()).group_by(table.c.kek_id)
        ).all():
            usage[kek_id] = usage.get(kek_id, 0) + count
    return usage


def not_wrapped_by(conn: Connection, table: Table, key_id: str, limit: int) -> list[SealedRow]:
    """Return a batch of rows whose data key another master key wraps, locked for update.

    The lock waits (no SKIP LOCKED): a row briefly locked by a ``last_used_at`` update must
    not be passed over, or the rotation would end with data keys left on the old key.
    """
    c = table.c
    query: Select[Any] = (
        select(c.id, c.project_id, c.secret_ciphertext, c.dek_wrapped, c.kek_id)
        .where(c.kek_id != key_id)
        .order_by(c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return SealedRow.all_of(conn.execute(query))


def store_rewrapped(
    conn: Connection, table: Table, rows: Sequence[tuple[str, Sealed, str]]
) -> None:
    """Save rewrapped data keys; each row only if it still has the key it was read with."""
    statement = (
        update(table)
        .where(table.c.id == bindparam("cid"), table.c.kek_id == bindparam("old_kek"))
        .values(dek_wrapped=bindparam("wrapped"), kek_id=bindparam("new_kek"))
    )
    conn.execute(
        statement,
        [
            {"cid": cid, "old_kek": old, "wrapped": s.wrapped_key, "new_kek": s.key_id}
            for cid, s, old in rows
        ],
    )

"""The audit trail's SQL: chained inserts, reads, and the verification of every chain.

Changes (create, rename, delete, key rotation) are recorded in the same transaction as the
change itself, with ``record_now``. Credential reads happen before every workflow step, so the
usage writer (``workers.usage_writer``) queues their entries and ``last_used_at`` stamps in
memory and writes them with ``record_usage``, many in one transaction (group commit).

Entries are hash-chained per project (``domain.audit_chain``): ``record_now`` locks the chain's
head row, numbers and links the new entries, and moves the head, all in the caller's
transaction, so concurrent writers (threads, processes, replicas) extend each chain one at a
time. ``verify`` walks every chain, on one snapshot of the database, and reports where one
does not hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gatekey.domain.audit_chain import GENESIS, Break, link
from gatekey.store import connections as connection_rows
from gatekey.store.database import Database
from gatekey.store.rows import AuditEventRow
from gatekey.store.tables import audit_events, audit_heads

HEADS_PER_STATEMENT = 500  # chains per statement (SQLite allows 32,766 parameters)


@dataclass(frozen=True, slots=True)
class Event:
    """One audited action; ``detail`` must never hold a secret."""

    at: datetime
    project_id: str | None
    actor: str
    action: str
    object_type: str
    object_id: str | None
    outcome: str = "ok"
    detail: Mapping[str, Any] = field(default_factory=dict)


_COLUMNS = (
    "at",
    "project_id",
    "actor",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "detail",
    "chain",
    "seq",
    "prev_hash",
    "hash",
)
_INSERT_SQL: dict[str, tuple[str, tuple[str, ...] | None]] = {}


def _insert_sql(conn: Connection) -> tuple[str, tuple[str, ...] | None]:
    """Compile the INSERT once per dialect (batches skip per-row statement building)."""
    name = conn.dialect.name
    if name not in _INSERT_SQL:
        statement = audit_events.insert().values({c: bindparam(c) for c in _COLUMNS})
        compiled = statement.compile(dialect=conn.dialect)
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        _INSERT_SQL[name] = (str(compiled), order)
    return _INSERT_SQL[name]


def _driver_row(event: Event, sqlite: bool) -> dict[str, Any]:
    at = event.at.astimezone(UTC).replace(tzinfo=None)
    return {
        "at": at.isoformat(sep=" ") if sqlite else at,
        "project_id": event.project_id,
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "outcome": event.outcome,
        "detail": json.dumps(dict(event.detail), separators=(",", ":")),
    }


def _lock_heads(conn: Connection, chains: list[str]) -> dict[str, tuple[int, str]]:
    """Create the chains' heads if needed, lock them until the transaction ends (in sorted
    order: two transactions never wait on each other's heads), return them. Two statements per
    500 chains: a flush of reads from 200 projects used to run 600."""
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    heads: dict[str, tuple[int, str]] = {}
    for start in range(0, len(chains), HEADS_PER_STATEMENT):
        part = chains[start : start + HEADS_PER_STATEMENT]
        conn.execute(  # one statement, compiled once, run for many rows
            dialect_insert(audit_heads).on_conflict_do_nothing(index_elements=["chain"]),
            [{"chain": chain, "seq": 0, "hash": GENESIS} for chain in part],
        )
        query = (
            select(audit_heads.c.chain, audit_heads.c.seq, audit_heads.c.hash)
            .where(audit_heads.c.chain.in_(part))
            .order_by(audit_heads.c.chain)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        heads.update(
            (chain, (int(seq), str(digest))) for chain, seq, digest in conn.execute(query).all()
        )
    return heads


def _chain(conn: Connection, events: Sequence[Event], rows: list[dict[str, Any]]) -> None:
    """Number and link ``rows`` (one per event) in their chains; move the heads."""
    members: dict[str, list[int]] = {}
    for index, event in enumerate(events):
        members.setdefault(event.project_id or "", []).append(index)
    chains = sorted(members)
    heads = _lock_heads(conn, chains)
    moved = []
    for chain in chains:
        seq, previous = heads[chain]
        for index in members[chain]:
            event, row = events[index], rows[index]
            seq += 1
            digest = link(
                previous,
                chain=chain,
                seq=seq,
                at=event.at,
                actor=event.actor,
                action=event.action,
                object_type=event.object_type,
                object_id=event.object_id,
                outcome=event.outcome,
                detail=json.loads(row["detail"]),
            )
            row.update(chain=chain, seq=seq, prev_hash=previous, hash=digest)
            previous = digest
        moved.append({"head": chain, "new_seq": seq, "new_hash": previous})
    conn.execute(
        update(audit_heads)
        .where(audit_heads.c.chain == bindparam("head"))
        .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")),
        moved,
    )


def record_usage(conn: Connection, events: Sequence[Event], used: Mapping[str, datetime]) -> None:
    """Stamp ``last_used_at`` on the connections in ``used``, then write ``events``: the
    connection rows first, then the chain heads, the order every change transaction takes
    them in, so none waits on another."""
    connection_rows.touch(conn, used)
    record_now(conn, events)


def record_now(conn: Connection, events: Sequence[Event]) -> None:
    """Write events inside the caller's transaction, chained, as one driver-level batch."""
    if not events:
        return
    sql, order = _insert_sql(conn)
    sqlite = conn.dialect.name == "sqlite"
    rows = [_driver_row(e, sqlite) for e in events]
    _chain(conn, events, rows)
    if order is not None:
        conn.exec_driver_sql(sql, [tuple(r[k] for k in order) for r in rows])
    else:
        conn.exec_driver_sql(sql, rows)


def events_for(
    conn: Connection, project_id: str, object_id: str | None, limit: int
) -> list[AuditEventRow]:
    """The project's newest entries (about ``object_id`` only, unless None), newest first."""
    query = select(audit_events).where(audit_events.c.project_id == project_id)
    if object_id is not None:
        query = query.where(audit_events.c.object_id == object_id)
    return AuditEventRow.all_of(
        conn.execute(
            query.order_by(audit_events.c.at.desc(), audit_events.c.id.desc()).limit(limit)
        )
    )


@dataclass(frozen=True, slots=True)
class Verification:
    chains: int
    entries: int
    breaks: list[Break]


@contextmanager
def snapshot(db: Database) -> Iterator[Connection]:
    """A read-only transaction that sees one state of the database from its first read to
    its end, whatever other processes commit meanwhile: REPEATABLE READ on PostgreSQL (READ
    COMMITTED, the default, takes a new snapshot per statement); on SQLite in WAL mode every
    read transaction already does."""
    if db.is_sqlite:
        with db.read() as conn:
            yield conn
        return
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield conn


def verify_snapshot(db: Database, chain: str | None = None) -> Verification:
    """``verify`` on one snapshot: heads and entries as of the same moment, so a writer
    committing meanwhile cannot make a chain look cut or out of order."""
    with snapshot(db) as conn:
        return verify(conn, chain)


def verify(conn: Connection, chain: str | None = None, page: int = 2000) -> Verification:
    """Recompute every chain (or one) from the stored entries; list where each one breaks.

    Reads in pages ordered by (chain, seq), so it runs in constant memory on any table size.
    ``conn`` must see one snapshot throughout (``snapshot``): read in separate snapshots,
    heads and entries written meanwhile disagree.
    """
    heads = {
        r.chain: (int(r.seq), r.hash)
        for r in conn.execute(select(audit_heads)).all()
        if chain is None or r.chain == chain
    }
    breaks: list[Break] = []
    entries = 0
    seen: dict[str, tuple[int, str]] = {}
    after: tuple[str, int] = ("", -1)
    while True:
        query = select(audit_events).where(
            (audit_events.c.chain > after[0])
            | ((audit_events.c.chain == after[0]) & (audit_events.c.seq > after[1]))
        )
        if chain is not None:
            query = query.where(audit_events.c.chain == chain)
        rows = conn.execute(
            query.order_by(audit_events.c.chain, audit_events.c.seq).limit(page)
        ).all()
        if not rows:
            break
        for row in rows:
            entries += 1
            seq, previous = seen.get(row.chain, (0, GENESIS))
            if row.seq != seq + 1 or row.prev_hash != previous:
                what = "missing entries before this one" if row.seq > seq + 1 else "out of order"
                if row.seq == seq + 1:
                    what = "does not link to the entry before it"
                breaks.append(Break(row.chain, int(row.seq), int(row.id), what))
            expected = link(
                row.prev_hash,
                chain=row.chain,
                seq=int(row.seq),
                at=row.at,
                actor=row.actor,
                action=row.action,
                object_type=row.object_type,
                object_id=row.object_id,
                outcome=row.outcome,
                detail=row.detail,
            )
            if expected != row.hash:
                breaks.append(Break(row.chain, int(row.seq), int(row.id), "edited"))
            seen[row.chain] = (int(row.seq), row.hash)
        after = (rows[-1].chain, int(rows[-1].seq))
    for name in sorted(set(heads) | set(seen)):
        head = heads.get(name)
        tip = seen.get(name, (0, GENESIS))
        if head is None:
            breaks.append(Break(name, tip[0], None, "the chain's head is missing"))
        elif head != tip:
            breaks.append(
                Break(name, head[0], None, f"the newest entries are missing (head is {head[0]})")
            )
    return Verification(len(set(heads) | set(seen)), entries, breaks)

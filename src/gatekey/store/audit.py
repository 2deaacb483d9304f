"""The audit trail, written off the hot path.

Credential reads happen before every workflow step, so their audit entries and ``last_used_at``
stamps are queued in memory and written by one background thread in a single transaction every
``interval`` seconds (group commit), and on ``close()``. Changes (create, rename, delete, key
rotation) are recorded in the same transaction as the change itself, with ``record_now``.

Entries are hash-chained per project (``domain.audit_chain``): ``record_now`` locks the chain's
head row, numbers and links the new entries, and moves the head, all in the caller's
transaction, so concurrent writers (threads, processes, replicas) extend each chain one at a
time. ``verify`` walks every chain, on one snapshot of the database, and reports where one
does not hold.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gatekey.domain.audit_chain import GENESIS, Break, link
from gatekey.store import connections as connection_rows
from gatekey.store.database import Database
from gatekey.store.tables import audit_events, audit_heads

log = logging.getLogger(__name__)
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
) -> Sequence[Row[Any]]:
    query = select(audit_events).where(audit_events.c.project_id == project_id)
    if object_id is not None:
        query = query.where(audit_events.c.object_id == object_id)
    return conn.execute(
        query.order_by(audit_events.c.at.desc(), audit_events.c.id.desc()).limit(limit)
    ).all()


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


def _roll_up_reads(events: list[Event]) -> list[Event]:
    """Fold the credential reads of one batch into one entry per (actor, connection, outcome).

    A flush covers a fraction of a second; an engine resolving the same connection before
    every step would otherwise write one row per step. The entry keeps who, what, the outcome,
    the number of reads and the first and last time (``detail.count``, ``detail.first_at``,
    ``at``); every other action is kept one row per event.
    """
    groups: dict[tuple[Any, ...], list[Event]] = {}
    out: list[Event] = []
    for event in events:
        if event.action != "credentials.read":
            out.append(event)
            continue
        key = (
            event.project_id,
            event.actor,
            event.object_id,
            event.outcome,
            tuple(sorted(event.detail.items())),
        )
        groups.setdefault(key, []).append(event)
    for group in groups.values():
        first = min(group, key=lambda e: e.at)
        last = max(group, key=lambda e: e.at)
        detail = dict(first.detail)
        if len(group) > 1:
            detail.update(count=len(group), first_at=first.at.isoformat())
        out.append(replace(first, at=last.at, detail=detail))
    return out


class AuditWriter:
    """Queues read events and ``last_used_at`` stamps; one thread commits them in batches."""

    def __init__(self, db: Database, interval: float = 0.2, max_batch: int = 5000) -> None:
        self._db = db
        self._interval = interval
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._reads: dict[tuple[str, str, str, str, str | None], list[Any]] = {}
        self._reads_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._flush_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="gatekey-audit", daemon=True)
        self._thread.start()

    def submit(self, event: Event) -> None:
        self._queue.put(event)

    def read(
        self,
        at: datetime,
        project_id: str,
        actor: str,
        connection_id: str,
        outcome: str = "ok",
        code: str | None = None,
    ) -> None:
        """Count one credential read. The reads of one (actor, connection, outcome) between two
        flushes become one entry (``detail.count``, ``detail.first_at``), counted here in the
        caller's thread: the writer thread then has a handful of rows to write, not one Python
        object per read, so it never holds the GIL long enough to slow resolutions down."""
        key = (project_id, actor, connection_id, outcome, code)
        with self._reads_lock:
            seen = self._reads.get(key)
            if seen is None:
                self._reads[key] = [1, at, at]
            else:
                seen[0] += 1
                seen[2] = at

    def _take_reads(self) -> list[Event]:
        with self._reads_lock:
            reads, self._reads = self._reads, {}
        events = []
        for (project_id, actor, cid, outcome, code), (count, first, last) in reads.items():
            detail: dict[str, Any] = {} if code is None else {"code": code}
            if count > 1:
                detail.update(count=count, first_at=first.isoformat())
            events.append(
                Event(
                    last, project_id, actor, "credentials.read", "connection", cid, outcome, detail
                )
            )
        return events

    @property
    def alive(self) -> bool:
        """Whether the writer thread is still committing."""
        return self._thread.is_alive() and not self._stopped.is_set()

    @property
    def backlog(self) -> int:
        return self._queue.qsize() + len(self._reads)

    def flush(self) -> int:
        """Write what was queued when called; return how many events were written.

        One transaction per call (more only while the queue holds over ``max_batch`` changes):
        reads that arrive meanwhile wait for the next flush. Looping until the queue is empty
        would, under a steady stream of resolutions, commit tiny batches back to back, and each
        commit costs every reader its page cache and a GIL hand-over.
        """
        with self._flush_lock:
            written = 0
            while True:
                drained = self._drain()
                batch = self._take_reads() + drained
                if not batch:
                    return written
                batch = _roll_up_reads(batch)
                used: dict[str, datetime] = {}
                for event in batch:
                    if (
                        event.object_id
                        and event.action == "credentials.read"
                        and event.outcome == "ok"
                    ):
                        previous = used.get(event.object_id)
                        used[event.object_id] = max(event.at, previous) if previous else event.at
                try:
                    with self._db.write() as conn:
                        # connection rows first, then the chain heads: the order every
                        # change transaction takes them in, so none waits on another
                        connection_rows.touch(conn, used)
                        record_now(conn, batch)
                except Exception:
                    for event in batch:
                        self._queue.put(event)
                    raise
                written += len(batch)
                if len(drained) < self._max_batch:
                    return written

    def close(self) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()

    def _drain(self) -> list[Event]:
        batch: list[Event] = []
        while len(batch) < self._max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self._interval)
            try:
                self.flush()
            except Exception:
                log.exception("audit flush failed; will retry")

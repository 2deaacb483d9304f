"""The usage writer: credential reads and ``last_used_at``, written off the hot path.

Credential reads happen before every workflow step, so their audit entries and
``last_used_at`` stamps are counted in memory and written by one ``Loop`` in a single
transaction every ``interval`` seconds (group commit), and on ``close()``. Events that need not
be written in the caller's transaction (``submit``) ride along. It runs in every process that
opens Gatekey (a CLI command, an embedded SDK, ``serve``), so the runtime starts and closes it,
not ``Workers``.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import replace
from datetime import datetime
from typing import Any

from gatekey.store import audit as audit_rows
from gatekey.store.audit import Event
from gatekey.store.database import Database
from gatekey.workers.loop import Loop

log = logging.getLogger(__name__)


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


class UsageWriter:
    """Queues read events and ``last_used_at`` stamps; one loop commits them in batches."""

    def __init__(self, db: Database, interval: float = 0.2, max_batch: int = 5000) -> None:
        self._db = db
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._reads: dict[tuple[str, str, str, str, str | None], list[Any]] = {}
        self._reads_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self.loop = Loop("gatekey-audit", self._step, interval=interval, log=log, join_timeout=10)

    def start(self) -> None:
        self.loop.start()

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
        """Whether the writer loop is still committing."""
        return self.loop.alive

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
                        audit_rows.record_usage(conn, batch, used)
                except Exception:
                    for event in batch:
                        self._queue.put(event)
                    raise
                written += len(batch)
                if len(drained) < self._max_batch:
                    return written

    def close(self) -> None:
        """Stop the loop and write what is left."""
        self.loop.stop()
        self.flush()

    def _drain(self) -> list[Event]:
        batch: list[Event] = []
        while len(batch) < self._max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _step(self, _: int) -> bool:
        """One group commit; a failure keeps the batch queued for the next (the loop logs it)."""
        self.flush()
        return False

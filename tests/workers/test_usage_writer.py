"""The usage writer: credential reads counted in the caller's thread, written with
``last_used_at`` in one transaction per flush, kept for the next flush when one fails."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import Connection, select

from gatekey.errors import DatabaseUnavailable
from gatekey.runtime import Runtime
from gatekey.service import Actor, Service
from gatekey.store.database import Database
from gatekey.store.tables import audit_events
from gatekey.workers.usage_writer import UsageWriter
from tests.fakes.providers import GOOD_SENDGRID


class _Flaky:
    """A database whose next ``write()`` fails as an outage does."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.down = True

    @contextmanager
    def write(self) -> Iterator[Connection]:
        if self.down:
            self.down = False
            raise DatabaseUnavailable("the database is unavailable")
        with self._db.write() as conn:
            yield conn


def _reads(db: Database, connection_id: str) -> list[dict[str, object]]:
    with db.read() as conn:
        rows = conn.execute(
            select(audit_events.c.detail, audit_events.c.outcome).where(
                audit_events.c.object_id == connection_id,
                audit_events.c.action == "credentials.read",
            )
        ).all()
    return [{"outcome": r.outcome, **r.detail} for r in rows]


def _connection(service: Service, actor: Actor) -> str:
    return service.connections.create(
        actor, app="sendgrid", name="SG", fields={"api_key": GOOD_SENDGRID}, validate=False
    ).id


def test_reads_between_flushes_are_one_entry_and_stamp_last_used(
    runtime: Runtime, service: Service, actor: Actor
) -> None:
    cid = _connection(service, actor)
    writer = UsageWriter(runtime.db)
    first = service.context.now()
    for n in range(3):
        writer.read(first + timedelta(seconds=n), actor.project_id, actor.key_id, cid)
    writer.read(first, actor.project_id, actor.key_id, cid, "refused", "connection_inactive")
    assert writer.backlog == 2
    assert writer.flush() == 2
    reads = sorted(_reads(runtime.db, cid), key=lambda r: str(r["outcome"]))
    assert reads == [
        {"outcome": "ok", "count": 3, "first_at": first.isoformat()},
        {"outcome": "refused", "code": "connection_inactive"},
    ]
    used = service.connections.get(actor, cid).last_used_at
    assert used is not None and abs(used - (first + timedelta(seconds=2))) < timedelta(seconds=1)
    assert writer.flush() == 0 and writer.backlog == 0


def test_a_failed_flush_keeps_the_batch_for_the_next(
    runtime: Runtime, service: Service, actor: Actor
) -> None:
    cid = _connection(service, actor)
    writer = UsageWriter(_Flaky(runtime.db))  # type: ignore[arg-type]
    writer.read(service.context.now(), actor.project_id, actor.key_id, cid)
    try:
        writer.flush()
    except DatabaseUnavailable:
        pass
    else:
        raise AssertionError("the outage reached the caller")
    assert writer.backlog == 1
    assert writer.flush() == 1
    assert [r["outcome"] for r in _reads(runtime.db, cid)] == ["ok"]


def test_the_loop_writes_every_interval_and_close_writes_the_rest(
    runtime: Runtime, service: Service, actor: Actor
) -> None:
    cid = _connection(service, actor)
    writer = UsageWriter(runtime.db, interval=0.02)
    writer.start()
    assert writer.alive
    writer.read(service.context.now(), actor.project_id, actor.key_id, cid)
    deadline = time.monotonic() + 10  # a hang guard only
    while not _reads(runtime.db, cid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _reads(runtime.db, cid) == [{"outcome": "ok"}], "written without a flush() call"
    writer.read(service.context.now(), actor.project_id, "another key", cid)
    writer.close()
    assert not writer.alive
    assert len(_reads(runtime.db, cid)) == 2, "close() wrote what was left"

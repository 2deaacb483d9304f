"""The audit hash chain: intact after real work, and every kind of tampering is found."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import column, delete, func, insert, select, table, update

from gatekey.domain.audit_chain import GENESIS, link
from gatekey.service import Actor, Service
from gatekey.store import audit as audit_rows
from gatekey.store.database import Database, alembic_config
from gatekey.store.tables import audit_events, audit_heads
from tests.fakes.providers import GOOD_SENDGRID

AT = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)


def _entry(**changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "chain": "proj_1",
        "seq": 1,
        "at": AT,
        "actor": "key_1",
        "action": "connection.create",
        "object_type": "connection",
        "object_id": "conn_1",
        "outcome": "ok",
        "detail": {"app": "sendgrid"},
    }
    fields.update(changes)
    return fields


def test_the_link_covers_every_field_and_the_previous_hash() -> None:
    base = link(GENESIS, **_entry())  # type: ignore[arg-type]
    assert base == link(GENESIS, **_entry())  # type: ignore[arg-type]
    assert base == link(GENESIS, **_entry(at=AT.replace(tzinfo=None)))  # type: ignore[arg-type]
    variants = [
        _entry(chain="proj_2"),
        _entry(seq=2),
        _entry(at=AT.replace(microsecond=0)),
        _entry(actor="key_2"),
        _entry(action="connection.delete"),
        _entry(object_type="flow"),
        _entry(object_id=None),
        _entry(outcome="refused"),
        _entry(detail={"app": "stripe"}),
        _entry(detail={}),
    ]
    digests = {link(GENESIS, **v) for v in variants}  # type: ignore[arg-type]
    assert len(digests) == len(variants) and base not in digests
    assert link("f" * 64, **_entry()) != base  # type: ignore[arg-type]


def _work(service: Service, actor: Actor, other_actor: Actor) -> None:
    for who, name in ((actor, "A"), (other_actor, "B"), (actor, "C")):
        made = service.connections.create(
            who, app="sendgrid", name=name, fields={"api_key": GOOD_SENDGRID}, validate=False
        )
        service.credentials.resolve(who, made.id)
        service.connections.rename(who, made.id, name + " 2")


def test_real_work_leaves_intact_chains_per_project(
    service: Service, actor: Actor, other_actor: Actor
) -> None:
    _work(service, actor, other_actor)
    mine = service.audit.verify(actor)
    everything = service.audit.verify(Actor.operator(""), every_project=True)

    assert mine.ok and mine.chains == 1 and mine.entries >= 6
    assert everything.ok and everything.chains >= 2
    assert everything.entries > mine.entries
    with service.context.db.read() as conn:
        rows = conn.execute(
            select(audit_events.c.seq).where(audit_events.c.chain == actor.project_id)
        ).scalars()
        assert sorted(rows) == list(range(1, mine.entries + 1))


def test_one_flush_chains_reads_from_many_projects(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_rows, "HEADS_PER_STATEMENT", 2)  # several statements per flush
    actors = []
    for n in range(5):
        project = service.system.create_project(f"tenant {n}")
        who = Actor.operator(project.id)
        made = service.connections.create(
            who, app="sendgrid", name="Mail", fields={"api_key": GOOD_SENDGRID}, validate=False
        )
        actors.append((who, made.id))
    service.context.audit.flush()
    for _ in range(3):  # reads of five projects queued together, written in one flush
        for who, cid in actors:
            service.credentials.resolve(who, cid)
        service.context.audit.flush()
    everything = service.audit.verify(Actor.operator(""), every_project=True)
    assert everything.ok and everything.chains >= 5
    with service.context.db.read() as conn:
        heads = dict(conn.execute(select(audit_heads.c.chain, audit_heads.c.seq)).all())
    for who, _ in actors:
        assert service.audit.verify(who).ok
        assert heads[who.project_id] == service.audit.verify(who).entries


def _first_entry_id(service: Service, actor: Actor, seq: int) -> int:
    with service.context.db.read() as conn:
        found = conn.execute(
            select(audit_events.c.id).where(
                audit_events.c.chain == actor.project_id, audit_events.c.seq == seq
            )
        ).scalar_one()
    return int(found)


def test_an_edited_entry_is_found(service: Service, actor: Actor, other_actor: Actor) -> None:
    _work(service, actor, other_actor)
    target = _first_entry_id(service, actor, 2)
    with service.context.db.write() as conn:
        conn.execute(
            update(audit_events).where(audit_events.c.id == target).values(actor="someone_else")
        )

    result = service.audit.verify(actor)

    assert not result.ok
    assert [(b.entry_id, b.problem) for b in result.breaks] == [(target, "edited")]
    assert service.audit.verify(other_actor).ok


def test_a_removed_entry_and_a_cut_tail_are_found(
    service: Service, actor: Actor, other_actor: Actor
) -> None:
    _work(service, actor, other_actor)
    total = service.audit.verify(actor).entries
    with service.context.db.write() as conn:
        conn.execute(
            delete(audit_events).where(audit_events.c.id == _first_entry_id(service, actor, 2))
        )
        conn.execute(
            delete(audit_events).where(
                audit_events.c.chain == actor.project_id, audit_events.c.seq == total
            )
        )

    problems = [(b.seq, b.problem) for b in service.audit.verify(actor).breaks]

    assert (3, "missing entries before this one") in problems
    assert (total, f"the newest entries are missing (head is {total})") in problems


def test_a_forged_entry_with_a_fresh_hash_still_breaks_the_chain(
    service: Service, actor: Actor, other_actor: Actor
) -> None:
    """Rewriting one entry and its hash does not help: the next entry no longer links to it."""
    _work(service, actor, other_actor)
    target = _first_entry_id(service, actor, 2)
    with service.context.db.write() as conn:
        row = conn.execute(select(audit_events).where(audit_events.c.id == target)).one()
        forged = {**row._asdict(), "outcome": "refused"}
        digest = link(
            row.prev_hash,
            **{
                k: forged[k]
                for k in (
                    "chain",
                    "seq",
                    "at",
                    "actor",
                    "action",
                    "object_type",
                    "object_id",
                    "outcome",
                    "detail",
                )
            },
        )
        conn.execute(
            update(audit_events)
            .where(audit_events.c.id == target)
            .values(outcome="refused", hash=digest)
        )

    breaks = service.audit.verify(actor).breaks

    assert [(b.seq, b.problem) for b in breaks] == [(3, "does not link to the entry before it")]


def test_the_migration_chains_entries_written_before_it(database_url: str) -> None:
    db = Database(database_url)
    config = alembic_config()
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        command.downgrade(config, "0006")
        conn.commit()
    old_style = [
        {
            "at": AT,
            "project_id": project,
            "actor": "cli",
            "action": "connection.create",
            "object_type": "connection",
            "object_id": f"conn_{n}",
            "outcome": "ok",
            "detail": {"n": n},
        }
        for n, project in enumerate(["proj_a", None, "proj_a", "proj_b"])
    ]
    legacy = table(
        "audit_events",
        *(column(name, audit_events.c[name].type) for name in old_style[0]),
    )
    with db.engine.begin() as conn:
        conn.execute(insert(legacy), old_style)
    db.migrate()
    with db.read() as conn:
        result = audit_rows.verify(conn)
        heads = {r.chain: r.seq for r in conn.execute(select(audit_heads)).all()}
    db.dispose()

    assert result.breaks == [] and result.entries == 4
    assert heads == {"proj_a": 2, "": 1, "proj_b": 1}


_WRITER = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from gatekey.store.audit import Event, record_now
from gatekey.store.database import Database

url, stop, chains = sys.argv[1], Path(sys.argv[2]), sys.argv[3].split(",")
db = Database(url)
n = 0
while not stop.exists():
    n += 1
    events = [
        Event(datetime.now(UTC), chain, "key_writer", "credentials.read", "connection",
              f"conn_{n}", detail={"n": n, "i": i})
        for chain in chains
        for i in range(1 + n % 3)
    ]
    with db.write() as conn:
        record_now(conn, events)
db.dispose()
"""


def _entries(service: Service) -> int:
    with service.context.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())


@pytest.mark.slow  # several processes
def test_verify_sees_one_snapshot_while_another_process_writes(
    service: Service, actor: Actor, other_actor: Actor, tmp_path: Path
) -> None:
    """A writer in another process appends to two chains the whole time: no verification
    reports a break that is not there, and a real one is still found afterwards."""
    _work(service, actor, other_actor)
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _WRITER,
            str(service.context.db.url.render_as_string(hide_password=False)),
            str(stop),
            f"{actor.project_id},{other_actor.project_id}",
        ]
    )
    operator = Actor.operator("")
    seen: list[int] = []
    try:
        for round_ in range(40):
            # let the writer move on before each round (a hang guard, not a timing assertion)
            last = _entries(service)
            deadline = time.monotonic() + 60
            while _entries(service) < last + 5 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert writer.poll() is None, "the writer process stopped early"
            result = (
                service.audit.verify(operator, every_project=True)
                if round_ % 2
                else service.audit.verify(actor)
            )
            assert result.breaks == [], f"round {round_}: {result.breaks[:3]}"
            if round_ % 2:
                seen.append(result.entries)
    finally:
        stop.touch()
        writer.wait(timeout=60)
    assert writer.returncode == 0
    assert seen == sorted(seen) and len(set(seen)) == len(seen), "the chains did not grow"
    assert service.audit.verify(operator, every_project=True).ok

    target = _first_entry_id(service, other_actor, 2)
    with service.context.db.write() as conn:
        conn.execute(update(audit_events).where(audit_events.c.id == target).values(outcome="x"))
    assert [(b.entry_id, b.problem) for b in service.audit.verify(other_actor).breaks] == [
        (target, "edited")
    ]

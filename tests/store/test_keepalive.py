"""The keep-alive claim: of any number of callers racing for an idle connection, one wins it
until its claim ends; a connection used meanwhile, or inactive, is nobody's to claim."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from gatekey.service import Actor, Service
from gatekey.store import keepalive
from gatekey.store.connections import touch
from gatekey.store.tables import connections

NOW = datetime(2026, 12, 20, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=15)


def _idle(service: Service, actor: Actor) -> str:
    service.context.clock = lambda: NOW - timedelta(days=20)
    return service.connections.create(
        actor, app="sendgrid", name="Idle", fields={"api_key": "SG.a.b"}, validate=False
    ).id


def _claim(service: Service, actor: Actor, cid: str, now: datetime = NOW) -> bool:
    with service.context.db.write() as conn:
        return keepalive.claim(
            conn,
            actor.project_id,
            cid,
            unused_before=CUTOFF,
            now=now,
            until=now + timedelta(hours=1),
        )


def test_racing_callers_claim_an_idle_connection_once(service: Service, actor: Actor) -> None:
    cid = _idle(service, actor)
    start = threading.Barrier(8)
    won: list[bool] = []

    def race() -> None:
        start.wait()
        won.append(_claim(service, actor, cid))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 7 + [True]
    assert not _claim(service, actor, cid, NOW + timedelta(minutes=59))
    assert _claim(service, actor, cid, NOW + timedelta(hours=1))  # the claim ended


def test_a_connection_used_since_the_cutoff_or_inactive_is_not_claimed(
    service: Service, actor: Actor
) -> None:
    used = _idle(service, actor)
    refused = service.connections.create(
        actor, app="sendgrid", name="Refused", fields={"api_key": "SG.c.d"}, validate=False
    ).id
    with service.context.db.write() as conn:
        touch(conn, {used: CUTOFF + timedelta(seconds=1)})
        conn.execute(
            update(connections).where(connections.c.id == refused).values(status="inactive")
        )
    assert not _claim(service, actor, used)
    assert not _claim(service, actor, refused)
    with service.context.db.read() as conn:
        found = keepalive.candidates(
            conn, unused_before=CUTOFF, now=NOW, keys=["sendgrid"], known=[], after=None, limit=9
        )
    assert found == []

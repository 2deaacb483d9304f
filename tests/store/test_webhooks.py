"""Claiming due webhook deliveries: a fair batch across projects, each delivery once."""

from __future__ import annotations

from datetime import timedelta

from gatekey import ids
from gatekey.service import Actor, Service
from gatekey.store import webhooks as rows


def _due(service: Service, actor: Actor, count: int) -> str:
    """An endpoint of the project with ``count`` deliveries due, the oldest first."""
    endpoint = service.webhooks.add(actor, url="https://hooks.example.test/in").id
    now = service.context.now()
    with service.context.db.write() as conn:
        rows.enqueue(
            conn,
            [
                {
                    "id": ids.new_id("whd"),
                    "endpoint_id": endpoint,
                    "project_id": actor.project_id,
                    "event_id": ids.new_id("evt"),
                    "event_type": "webhook.ping",
                    "body": b"{}",
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now - timedelta(seconds=count - n),
                    "created_at": now,
                }
                for n in range(count)
            ],
        )
    return endpoint


def _claim(service: Service, limit: int = 20) -> list[str]:
    """Claim one batch; return whose project each delivery was, in sending order."""
    now = service.context.now()
    with service.context.db.write() as conn:
        claimed = rows.claim_due(conn, now, now + timedelta(minutes=5), limit=limit, per_project=5)
        found = [rows.delivery_with_endpoint(conn, i) for i in claimed]
    return [r.project_id for r in found if r is not None]


def test_a_batch_takes_every_projects_first_before_any_projects_second(
    service: Service, actor: Actor
) -> None:
    b = Actor.operator(service.system.create_project("b").id)
    c = Actor.operator(service.system.create_project("c").id)
    _due(service, actor, 1000)  # the oldest, by far
    _due(service, c, 3)
    _due(service, b, 1)
    a_, b_, c_ = actor.project_id, b.project_id, c.project_id
    # smaller backlogs first among equal turns; no project more than five in a batch
    assert _claim(service) == [b_, c_, a_, c_, a_, c_, a_, a_, a_]
    assert _claim(service) == [a_] * 5
    assert _claim(service, limit=3) == [a_] * 3


def test_a_claimed_delivery_is_not_claimed_again_until_its_claim_lapses(
    service: Service, actor: Actor
) -> None:
    _due(service, actor, 3)
    now = service.context.now()
    with service.context.db.write() as conn:
        first = rows.claim_due(conn, now, now + timedelta(minutes=1), limit=20, per_project=5)
        assert len(first) == 3
        assert rows.claim_due(conn, now, now + timedelta(minutes=1), limit=20, per_project=5) == []
        later = now + timedelta(minutes=2)
        again = rows.claim_due(conn, later, later + timedelta(minutes=1), limit=20, per_project=5)
    assert again == first

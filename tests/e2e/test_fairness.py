"""One project cannot starve another: project A floods the webhook outbox with 1,000
deliveries that fail and the run queue with 1,000 slow runs, with the dispatcher and the run
workers going; project B's delivery and run are taken next, not after A's backlog. On SQLite
and PostgreSQL, with the real transport, dispatcher thread and worker pool.

Order, not time: each attempt records when it started (a delivery's ``next_attempt_at`` minus
its retry delay, a run's ``started_at``), and the test counts A's attempts that started after
B's work was committed (when the call queuing it returned, not its ``created_at``: on a loaded
machine the commit can come hundreds of milliseconds after, and claims before it cannot see B)
and before B's did."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from gatekey.domain import webhooks as hooks
from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, Service
from gatekey.service.deliveries import PER_PROJECT
from gatekey.settings import Settings
from gatekey.store.tables import runs, webhook_deliveries
from gatekey.workers.dispatcher import WebhookDispatcher
from gatekey.workers.runner import RunWorker
from tests.fakes.apps import acme
from tests.fakes.receiver import Receiver, receiver
from tests.fakes.servers import free_port

pytestmark = pytest.mark.slow  # a flood of a thousand deliveries and runs, workers going

FLOOD = 1000
THREADS = 2
GIVE_UP_AFTER = 100  # A's attempts after B queued: far past any fair turn, well short of FIFO


@pytest.fixture
def hub() -> Iterator[Receiver]:
    with receiver() as running:
        running.me_delay = 0.2  # every run's step waits on the app
        yield running


@pytest.fixture
def live(settings: Settings) -> Iterator[Runtime]:
    runtime = open_runtime(settings)
    yield runtime
    runtime.close()


def _flow(service: Service, actor: Actor, hub: Receiver) -> str:
    """A flow of one HTTP step to the app on the receiver (``GET /me``, slow)."""
    service.apps.add(actor, acme(base_url=hub.url))
    service.connections.create(
        actor, app="acme-crm", name="Acme", fields={"api_key": "k-123456"}, validate=False
    )
    step = {"id": "me", "app": "acme-crm", "type": "http", "http": {"path": "/me"}}
    return service.flows.create(actor, name="Slow", definition={"steps": [step]}).id


def _delivery_starts(service: Service, project_id: str) -> list[datetime]:
    """When each attempted delivery of the project last started (before its retry delay)."""
    d = webhook_deliveries
    with service.context.db.read() as conn:
        found = conn.execute(
            select(d.c.attempts, d.c.next_attempt_at, d.c.delivered_at).where(
                d.c.project_id == project_id, d.c.attempts > 0
            )
        ).all()
    starts = []
    for attempts, next_at, delivered_at in found:
        if delivered_at is not None:
            starts.append(delivered_at)
        elif next_at is not None:
            starts.append(next_at - hooks.retry_delay(attempts))
    return starts


def _run_starts(service: Service, project_id: str) -> list[datetime]:
    with service.context.db.read() as conn:
        found = conn.execute(
            select(runs.c.started_at).where(
                runs.c.project_id == project_id, runs.c.started_at.isnot(None)
            )
        ).scalars()
        return list(found)


def _between(starts: list[datetime], after: datetime, before: datetime) -> int:
    return sum(1 for s in starts if after <= s < before)


def test_a_flooding_project_does_not_hold_back_another(live: Runtime, hub: Receiver) -> None:
    service = live.service
    a = Actor.operator(service.system.bootstrap()[0].id)
    b = Actor.operator(service.system.create_project("B").id)

    flow_a = _flow(service, a, hub)
    refusing = service.webhooks.add(a, url=f"http://127.0.0.1:{free_port()}/hook")
    with service.context.db.write() as conn:
        for _ in range(FLOOD):
            service.context.outbox.add(
                conn, a.project_id, hooks.PING, {}, service.context.now(), endpoints=[refusing.id]
            )
    for n in range(FLOOD):
        service.runs.trigger(a, flow_a, {"n": n})
    flow_b = _flow(service, b, hub)
    hook_b = service.webhooks.add(b, url=f"{hub.url}/hook")

    dispatcher = WebhookDispatcher(service.system, interval=0.05)
    worker = RunWorker(live.engine, threads=THREADS, idle_wait=0.05)
    dispatcher.start()
    worker.start()
    try:
        deadline = time.monotonic() + 60  # a hang guard only
        while time.monotonic() < deadline and (
            len(_delivery_starts(service, a.project_id)) < 50
            or len(_run_starts(service, a.project_id)) < 2 * THREADS
        ):
            time.sleep(0.02)  # both queues are moving and every worker is busy with A

        queued_at = service.context.now()
        service.webhooks.ping(b, hook_b.id)
        pinged_at = service.context.now()  # B's delivery is committed: every claim sees it
        run_b = service.runs.trigger(b, flow_b).id
        triggered_at = service.context.now()  # likewise B's run
        while time.monotonic() < deadline:
            delivered = [d for d in service.webhooks.deliveries(b, hook_b.id) if d.attempts]
            started = service.runs.get(b, run_b).started_at
            if delivered and started is not None:
                break
            later = service.context.now() + timedelta(days=1)
            if (
                _between(_delivery_starts(service, a.project_id), queued_at, later) > GIVE_UP_AFTER
                or _between(_run_starts(service, a.project_id), queued_at, later) > GIVE_UP_AFTER
            ):
                break  # B is behind A's backlog: no need to wait for the rest of it
            time.sleep(0.02)
    finally:
        dispatcher.stop()
        worker.stop()

    (delivery,) = service.webhooks.deliveries(b, hook_b.id)
    assert delivery.status == "delivered", (
        f"B's delivery: {delivery.attempts} attempt(s), {delivery.last_error}"
    )
    assert delivery.delivered_at is not None
    sent = _delivery_starts(service, a.project_id)
    a_sent = _between(sent, pinged_at, delivery.delivered_at)
    assert a_sent <= 2 * PER_PROJECT, f"{a_sent} of A's deliveries went before B's"

    run = service.runs.get(b, run_b)
    assert run.started_at is not None, "B's run waited behind A's queue"
    a_ran = _between(_run_starts(service, a.project_id), triggered_at, run.started_at)
    assert a_ran <= THREADS, f"{a_ran} of A's runs started before B's"
    assert run.status in ("running", "succeeded")

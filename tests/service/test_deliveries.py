"""``service.deliveries``: every status change is sent signed and without secrets, failures are
retried with backoff then given up, a destination blocked after registration fails at once,
and one broken delivery never stops the others."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gatekey import ids
from gatekey.domain import webhooks as hooks
from gatekey.errors import (
    DestinationBlocked,
)
from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.store import webhooks as webhook_rows
from gatekey.store.tables import webhook_deliveries, webhook_endpoints
from gatekey.workers.dispatcher import WebhookDispatcher
from tests.fakes.receiver import Clock, Receiver, app_on, events_of

CANARY = "CANARYwebhookKEY0001"


def _legacy_endpoint(service: Service, actor: Actor, url: str) -> str:
    """An endpoint stored as registration did before it checked URLs."""
    webhook_id = ids.new_id("whk")
    box = service.context.vault.seal(actor.project_id, webhook_id, {"secret": hooks.new_secret()})
    with service.context.db.write() as conn:
        webhook_rows.insert_endpoint(
            conn,
            {
                "id": webhook_id,
                "project_id": actor.project_id,
                "url": url,
                "description": "",
                "events": ["*"],
                "secret_ciphertext": box.ciphertext,
                "dek_wrapped": box.wrapped_key,
                "kek_id": box.key_id,
                "created_at": service.context.now(),
            },
        )
    return webhook_id


def _queue_to(service: Service, actor: Actor, webhook_id: str, count: int) -> None:
    with service.context.db.write() as conn:
        for _ in range(count):
            service.context.outbox.add(
                conn,
                actor.project_id,
                hooks.PING,
                {},
                service.context.now(),
                endpoints=[webhook_id],
            )


def test_every_status_change_is_sent_signed_and_without_secrets(
    live: tuple[Service, Actor, Runtime], hub: Receiver
) -> None:
    service, actor, _ = live
    app_on(service, actor, hub)
    created = service.webhooks.add(actor, url=f"{hub.url}/hook", description="ops")
    assert created.secret.startswith("whsec_") and created.events == ["*"]

    connection = service.connections.create(
        actor, app="acme-crm", name="Acme", fields={"api_key": CANARY}
    )
    hub.me_status = 401
    assert not service.connections.test(actor, connection.id).ok
    hub.me_status = 200
    service.connections.update(actor, connection.id, fields={"api_key": CANARY})
    service.connections.rename(actor, connection.id, "Acme CRM")
    service.connections.delete(actor, connection.id)
    assert service.system.deliver_webhooks() == 4

    events = events_of(hub)
    assert [e["type"] for e in events] == [
        "connection.created",
        "connection.inactive",
        "connection.recovered",
        "connection.deleted",
    ]
    assert events[1]["data"]["connection"]["status_reason"] == "invalid_credentials"
    assert events[0]["data"]["connection"]["id"] == connection.id
    assert len({e["id"] for e in events}) == 4
    for sent in hub.hooks:
        assert hooks.verify(
            created.secret, sent.headers["Gatekey-Signature"], sent.body, time.time()
        )
        assert not hooks.verify(
            "whsec_wrong", sent.headers["Gatekey-Signature"], sent.body, time.time()
        )
        assert sent.headers["Gatekey-Event"] in hooks.EVENTS
        assert CANARY.encode() not in sent.body
    log = service.webhooks.deliveries(actor, created.id)
    assert {d.status for d in log} == {"delivered"} and {d.attempts for d in log} == {1}
    assert service.webhooks.list(actor)[0].deliveries == {"delivered": 4}
    assert service.system.deliver_webhooks() == 0


def test_failed_deliveries_are_retried_with_backoff_then_given_up(
    live: tuple[Service, Actor, Runtime], hub: Receiver
) -> None:
    service, actor, _ = live
    clock = Clock()
    service.context.clock = clock
    created = service.webhooks.add(actor, url=f"{hub.url}/hook")
    hub.hook_statuses = [500, 503]
    service.webhooks.ping(actor, created.id)

    assert service.system.deliver_webhooks() == 1
    (first,) = service.webhooks.deliveries(actor, created.id)
    assert (first.status, first.attempts, first.last_status) == ("pending", 1, 500)
    assert first.next_attempt_at == clock.now + timedelta(seconds=10)
    assert service.system.deliver_webhooks() == 0  # not due yet
    clock.now += timedelta(seconds=11)
    assert service.system.deliver_webhooks() == 1
    clock.now += timedelta(seconds=31)
    assert service.system.deliver_webhooks() == 1
    (done,) = service.webhooks.deliveries(actor, created.id)
    assert (done.status, done.attempts, done.last_status) == ("delivered", 3, 200)
    assert len(hub.hooks) == 3 and len({r.headers["Gatekey-Delivery"] for r in hub.hooks}) == 1

    hub.hook_statuses = [500] * 20
    service.webhooks.ping(actor, created.id)
    for _ in range(hooks.MAX_ATTEMPTS):
        clock.now += timedelta(hours=7)
        service.system.deliver_webhooks()
    latest = service.webhooks.deliveries(actor, created.id)[0]
    assert (latest.status, latest.attempts) == ("failed", hooks.MAX_ATTEMPTS)
    assert latest.last_error == "the endpoint answered HTTP 500"
    clock.now += timedelta(days=1)
    assert service.system.deliver_webhooks() == 0


def test_a_destination_blocked_after_registration_fails_at_once(
    settings: Settings, live: tuple[Service, Actor, Runtime]
) -> None:
    """Registered while the operator allowed it; the allowlist no longer does."""
    service, actor, _ = live
    metadata = "http://169.254.169.254/latest/meta-data"
    with pytest.raises(DestinationBlocked):
        service.webhooks.add(actor, url=metadata)
    wider = open_runtime(settings.model_copy(update={"egress_allow": "169.254.169.254"}))
    try:
        created = wider.service.webhooks.add(actor, url=metadata)
        wider.service.webhooks.ping(actor, created.id)
    finally:
        wider.close()
    assert service.system.deliver_webhooks() == 1
    (delivery,) = service.webhooks.deliveries(actor, created.id)
    assert delivery.status == "failed" and delivery.attempts == 1
    assert "GATEKEY_EGRESS_ALLOW" in (delivery.last_error or "")


def test_one_broken_delivery_never_stops_the_others(
    live: tuple[Service, Actor, Runtime], hub: Receiver
) -> None:
    """60 deliveries to URLs the client cannot even parse (stored before URLs were checked),
    one whose secret no longer decrypts, and another project's good one: every delivery is
    settled, the good one is delivered, none is left claimed."""
    service, actor, _ = live
    broken = [
        _legacy_endpoint(service, actor, url)
        for url in ("http://0177.0.0.1/x", "http://[::1", "http://a b/", "http://x.test:99999/")
    ]
    for webhook_id in broken:
        _queue_to(service, actor, webhook_id, 15)
    sealed_wrong = _legacy_endpoint(service, actor, f"{hub.url}/hook")
    with service.context.db.write() as conn:
        conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == sealed_wrong)
            .values(secret_ciphertext=b"\x00" * 48)
        )
    _queue_to(service, actor, sealed_wrong, 1)
    other = Actor.operator(service.system.create_project("other").id)
    good = service.webhooks.add(other, url=f"{hub.url}/hook")
    service.webhooks.ping(other, good.id)

    assert WebhookDispatcher(service.system).drain() == 62
    assert [d.status for d in service.webhooks.deliveries(other, good.id)] == ["delivered"]
    assert [r.headers["Gatekey-Event"] for r in hub.hooks] == ["webhook.ping"]
    for webhook_id in broken:
        log = service.webhooks.deliveries(actor, webhook_id)
        assert len(log) == 15 and {(d.status, d.attempts) for d in log} == {("failed", 1)}
        assert all("cannot be used" in (d.last_error or "") for d in log)
    (undecryptable,) = service.webhooks.deliveries(actor, sealed_wrong)
    assert (undecryptable.status, undecryptable.attempts) == ("pending", 1)
    assert undecryptable.last_error
    with service.context.db.read() as conn:
        held = conn.execute(
            select(webhook_deliveries.c.id).where(webhook_deliveries.c.claimed_until.isnot(None))
        ).all()
    assert held == []

"""Status webhooks: events written with the change, signed deliveries, retries, the log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gatekey.domain import webhooks as hooks
from gatekey.domain.connection import Role
from gatekey.errors import InvalidFields, NotFound, PermissionDenied
from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, ConnectionService
from gatekey.settings import Settings
from tests.fakes.receiver import Receiver, receiver
from tests.service.test_apps import acme

CANARY = "CANARYwebhookKEY0001"


@pytest.fixture
def hub() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


@pytest.fixture
def live(settings: Settings) -> Iterator[tuple[ConnectionService, Actor, Runtime]]:
    """The real transport (the receiver is on loopback, which the suite allows)."""
    runtime = open_runtime(settings)
    project, _ = runtime.service.bootstrap()
    yield runtime.service, Actor.operator(project.id), runtime
    runtime.close()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _app_on(service: ConnectionService, actor: Actor, hub: Receiver) -> None:
    """An API-key app whose test request goes to the receiver's ``/me``."""
    service.add_app(actor, acme(base_url=hub.url))


def _events(hub: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in hub.hooks]


def test_every_status_change_is_sent_signed_and_without_secrets(
    live: tuple[ConnectionService, Actor, Runtime], hub: Receiver
) -> None:
    service, actor, _ = live
    _app_on(service, actor, hub)
    created = service.add_webhook(actor, url=f"{hub.url}/hook", description="ops")
    assert created.secret.startswith("whsec_") and created.events == ["*"]

    connection = service.create_connection(
        actor, app="acme-crm", name="Acme", fields={"api_key": CANARY}
    )
    hub.me_status = 401
    assert not service.test_connection(actor, connection.id).ok
    hub.me_status = 200
    service.update_connection(actor, connection.id, fields={"api_key": CANARY})
    service.rename_connection(actor, connection.id, "Acme CRM")
    service.delete_connection(actor, connection.id)
    assert service.deliver_webhooks() == 4

    events = _events(hub)
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
    log = service.webhook_deliveries(actor, created.id)
    assert {d.status for d in log} == {"delivered"} and {d.attempts for d in log} == {1}
    assert service.list_webhooks(actor)[0].deliveries == {"delivered": 4}
    assert service.deliver_webhooks() == 0


def test_failed_deliveries_are_retried_with_backoff_then_given_up(
    live: tuple[ConnectionService, Actor, Runtime], hub: Receiver
) -> None:
    service, actor, _ = live
    clock = Clock()
    service.clock = clock
    created = service.add_webhook(actor, url=f"{hub.url}/hook")
    hub.hook_statuses = [500, 503]
    service.ping_webhook(actor, created.id)

    assert service.deliver_webhooks() == 1
    (first,) = service.webhook_deliveries(actor, created.id)
    assert (first.status, first.attempts, first.last_status) == ("pending", 1, 500)
    assert first.next_attempt_at == clock.now + timedelta(seconds=10)
    assert service.deliver_webhooks() == 0  # not due yet
    clock.now += timedelta(seconds=11)
    assert service.deliver_webhooks() == 1
    clock.now += timedelta(seconds=31)
    assert service.deliver_webhooks() == 1
    (done,) = service.webhook_deliveries(actor, created.id)
    assert (done.status, done.attempts, done.last_status) == ("delivered", 3, 200)
    assert len(hub.hooks) == 3 and len({r.headers["Gatekey-Delivery"] for r in hub.hooks}) == 1

    hub.hook_statuses = [500] * 20
    service.ping_webhook(actor, created.id)
    for _ in range(hooks.MAX_ATTEMPTS):
        clock.now += timedelta(hours=7)
        service.deliver_webhooks()
    latest = service.webhook_deliveries(actor, created.id)[0]
    assert (latest.status, latest.attempts) == ("failed", hooks.MAX_ATTEMPTS)
    assert latest.last_error == "the endpoint answered HTTP 500"
    clock.now += timedelta(days=1)
    assert service.deliver_webhooks() == 0


def test_a_blocked_destination_fails_at_once(
    live: tuple[ConnectionService, Actor, Runtime],
) -> None:
    service, actor, _ = live
    created = service.add_webhook(actor, url="http://169.254.169.254/latest/meta-data")
    service.ping_webhook(actor, created.id)
    service.deliver_webhooks()
    (delivery,) = service.webhook_deliveries(actor, created.id)
    assert delivery.status == "failed" and delivery.attempts == 1
    assert "GATEKEY_EGRESS_ALLOW" in (delivery.last_error or "")


def test_endpoints_get_the_events_they_asked_for_and_only_their_projects(
    live: tuple[ConnectionService, Actor, Runtime], hub: Receiver
) -> None:
    service, actor, _ = live
    other = Actor.operator(service.create_project("other").id)
    service.add_webhook(actor, url=f"{hub.url}/hook", events=["connection.deleted"])
    service.add_webhook(other, url=f"{hub.url}/hook")
    made = service.create_connection(
        actor, app="sendgrid", name="SG", fields={"api_key": "SG.a.b"}, validate=False
    )
    service.delete_connection(actor, made.id)
    service.deliver_webhooks()
    assert [e["type"] for e in _events(hub)] == ["connection.deleted"]


def test_bad_input_and_roles(live: tuple[ConnectionService, Actor, Runtime]) -> None:
    service, actor, _ = live
    for url in ("ftp://x.test/", "not a url", "https://user:pw@x.test/", "x" * 2100, 7):
        with pytest.raises(InvalidFields):
            service.add_webhook(actor, url=url)
    with pytest.raises(InvalidFields):
        service.add_webhook(actor, url="https://x.test/", events=["connection.exploded"])
    with pytest.raises(InvalidFields):
        service.add_webhook(actor, url="https://x.test/", events=[])
    with pytest.raises(PermissionDenied):
        service.add_webhook(Actor(actor.project_id, "key_x", Role.RUNTIME), url="https://x.test/")
    assert service.list_webhooks(actor) == []
    created = service.add_webhook(actor, url="https://x.test/")
    other = Actor.operator(service.create_project("other").id)
    with pytest.raises(NotFound):
        service.delete_webhook(other, created.id)
    with pytest.raises(NotFound):
        service.webhook_deliveries(other, created.id)
    service.delete_webhook(actor, created.id)
    assert service.list_webhooks(actor) == []


def test_the_secret_is_sealed_and_shown_once(
    live: tuple[ConnectionService, Actor, Runtime], settings: Settings
) -> None:
    service, actor, runtime = live
    created = service.add_webhook(actor, url="https://x.test/")
    assert created.secret not in service.list_webhooks(actor)[0].model_dump_json()
    runtime.service.audit.flush()
    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        files = list(database.parent.glob(database.name + "*"))
        assert files and all(created.secret.encode() not in f.read_bytes() for f in files)

"""``service.webhooks``: endpoints and the events they asked for, per project; URLs checked at
registration; bad input and roles; the secret sealed and shown once."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekey.domain.connection import Role
from gatekey.errors import (
    DestinationBlocked,
    InvalidFields,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from gatekey.runtime import Runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes.receiver import Receiver, events_of

UNUSABLE = [
    "http://0177.0.0.1/x",  # octal IPv4: httpx2 refuses to parse it
    "http://[::1",
    "http://[::1]x/",
    "http://a b/",
    "http://%zz/",
    "http://x.test:99999/",
    "http://x.test:0/",
    "http://\x01.test/",
    "http:///path-only",
    "https://user:pw@x.test/",
    "ftp://x.test/",
    "gopher://x.test/",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "not a url",
    "x" * 2100,
    "",
    7,
    None,
]
BLOCKED = [
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data",
    "http://0.0.0.0/",
    "http://[fec0::1]/",
    "http://[3fff::1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::1]:8080/",  # the suite allows 127.0.0.1 only
]


def test_a_url_that_can_never_be_delivered_to_is_refused_at_registration(
    live: tuple[Service, Actor, Runtime],
) -> None:
    service, actor, _ = live
    for url in UNUSABLE:
        with pytest.raises(InvalidInput) as refused:
            service.webhooks.add(actor, url=url)
        assert refused.value.code == "invalid_input", url
        assert refused.value.details["field"] == "url"
    for url in BLOCKED:
        with pytest.raises(DestinationBlocked, match="GATEKEY_EGRESS_ALLOW"):
            service.webhooks.add(actor, url=url)
    assert service.webhooks.list(actor) == []
    # a host that does not resolve yet is taken: the delivery resolves and checks again
    assert service.webhooks.add(actor, url="https://hooks.not-yet.test/x").url.endswith("/x")


def test_endpoints_get_the_events_they_asked_for_and_only_their_projects(
    live: tuple[Service, Actor, Runtime], hub: Receiver
) -> None:
    service, actor, _ = live
    other = Actor.operator(service.system.create_project("other").id)
    service.webhooks.add(actor, url=f"{hub.url}/hook", events=["connection.deleted"])
    service.webhooks.add(other, url=f"{hub.url}/hook")
    made = service.connections.create(
        actor, app="sendgrid", name="SG", fields={"api_key": "SG.a.b"}, validate=False
    )
    service.connections.delete(actor, made.id)
    service.system.deliver_webhooks()
    assert [e["type"] for e in events_of(hub)] == ["connection.deleted"]


def test_bad_input_and_roles(live: tuple[Service, Actor, Runtime]) -> None:
    service, actor, _ = live
    with pytest.raises(InvalidFields):
        service.webhooks.add(actor, url="https://x.test/", events=["connection.exploded"])
    with pytest.raises(InvalidFields):
        service.webhooks.add(actor, url="https://x.test/", events=[])
    with pytest.raises(PermissionDenied):
        service.webhooks.add(Actor(actor.project_id, "key_x", Role.RUNTIME), url="https://x.test/")
    assert service.webhooks.list(actor) == []
    created = service.webhooks.add(actor, url="https://x.test/")
    other = Actor.operator(service.system.create_project("other").id)
    with pytest.raises(NotFound):
        service.webhooks.delete(other, created.id)
    with pytest.raises(NotFound):
        service.webhooks.deliveries(other, created.id)
    service.webhooks.delete(actor, created.id)
    assert service.webhooks.list(actor) == []


def test_the_secret_is_sealed_and_shown_once(
    live: tuple[Service, Actor, Runtime], settings: Settings
) -> None:
    service, actor, runtime = live
    created = service.webhooks.add(actor, url="https://x.test/")
    assert created.secret not in service.webhooks.list(actor)[0].model_dump_json()
    runtime.service.context.audit.flush()
    url = settings.resolved_database_url
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        files = list(database.parent.glob(database.name + "*"))
        assert files and all(created.secret.encode() not in f.read_bytes() for f in files)

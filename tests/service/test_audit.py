"""``service.audit``: the project's trail, newest first, for admins only; the reads queued a
moment ago are in it; no secret ever is. Verifying every project's chain is the operator's
alone. (Tampering with the chain itself is ``tests/store/test_audit.py``.)"""

from __future__ import annotations

import pytest

from gatekey.domain.roles import Role
from gatekey.errors import CredentialsRejected, GatekeyError, PermissionDenied
from gatekey.service import Actor, Service
from tests.fakes.providers import GOOD_SENDGRID, sendgrid_connection


def test_the_trail_is_the_projects_newest_first(
    service: Service, actor: Actor, other_actor: Actor
) -> None:
    first = sendgrid_connection(service, actor, validate=False)
    service.connections.rename(actor, first.id, "Renamed")
    sendgrid_connection(service, other_actor, validate=False)
    key = service.access.create_key(actor, name="worker", role="runtime")

    trail = service.audit.events(actor)
    assert [e.action for e in trail] == [
        "api_key.create",
        "connection.update",
        "connection.create",
        "api_key.create",  # the initial admin key, at the first start
    ]
    assert {e.project_id for e in trail} == {actor.project_id}
    assert [e.id for e in trail] == sorted((e.id for e in trail), reverse=True)
    assert [e.action for e in service.audit.events(actor, limit=1)] == ["api_key.create"]
    about = service.audit.events(actor, object_id=first.id)
    assert [e.action for e in about] == ["connection.update", "connection.create"]
    assert service.audit.events(actor, object_id=key.id)[0].actor == "operator"


def test_reads_queued_a_moment_ago_are_in_the_trail(service: Service, actor: Actor) -> None:
    created = sendgrid_connection(service, actor, validate=False)
    worker = service.system.authenticate(
        service.access.create_key(actor, name="worker", role="runtime").token
    )
    service.credentials.resolve(worker, created.id)  # queued, written by the usage writer

    (read, _) = service.audit.events(actor, object_id=created.id)
    assert (read.action, read.actor, read.outcome) == ("credentials.read", worker.key_id, "ok")


def test_no_secret_is_ever_in_the_trail(service: Service, actor: Actor) -> None:
    created = sendgrid_connection(service, actor)
    canary = "SG.CANARYaudit.CANARYaudit0001"
    with pytest.raises(CredentialsRejected):
        service.connections.update(actor, created.id, fields={"api_key": canary})
    service.connections.update(actor, created.id, fields={"api_key": GOOD_SENDGRID})
    key = service.access.create_key(actor, name="worker", role="runtime")
    hook = service.webhooks.add(actor, url="https://hooks.example.com/x")
    service.oauth_clients.register(
        actor, app="github", client_id="gh", client_secret="gh-CANARY-client-secret"
    )

    trail = service.audit.events(actor, limit=500)
    assert len(trail) == 6
    shown = str([e.model_dump() for e in trail])
    for secret in (canary, GOOD_SENDGRID, key.token, hook.secret, "gh-CANARY-client-secret"):
        assert secret not in shown


def test_only_admins_read_or_verify_and_only_the_operator_verifies_everything(
    service: Service, actor: Actor, other_actor: Actor
) -> None:
    sendgrid_connection(service, actor, validate=False)
    sendgrid_connection(service, other_actor, validate=False)
    admin = service.system.authenticate(
        service.access.create_key(actor, name="admin", role="admin").token
    )
    worker = Actor(actor.project_id, "key_runtime", Role.RUNTIME)

    for call in (
        lambda: service.audit.events(worker),
        lambda: service.audit.verify(worker),
        lambda: service.audit.verify(admin, every_project=True),
    ):
        with pytest.raises(PermissionDenied) as caught:
            call()
        assert caught.value.code == "forbidden"
    mine = service.audit.verify(admin)
    assert mine.ok and mine.chains == 1 and mine.entries >= 2
    everything = service.audit.verify(actor, every_project=True)
    assert everything.ok and everything.chains >= 2 and everything.entries > mine.entries


@pytest.mark.parametrize("limit", [0, -1, 1_000_000])
def test_a_limit_outside_what_the_api_takes_is_invalid_input(
    service: Service, actor: Actor, limit: int
) -> None:
    sendgrid_connection(service, actor, validate=False)
    with pytest.raises(GatekeyError) as caught:
        service.audit.events(actor, limit=limit)
    assert caught.value.code == "invalid_input"

"""``service.facade``: the one object every adapter holds. Every part is built and they all
share one context, so a clock set on ``service.context`` holds for each of them; its repr
names neither a part nor a secret."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, datetime, timedelta

import pytest

from gatekey.errors import AuthenticationFailed
from gatekey.service import Actor, Service
from gatekey.service.facade import Internals
from tests.fakes.keys import MASTER_KEY
from tests.fakes.providers import GOOD_SENDGRID, sendgrid_connection

MOVED = datetime(2031, 5, 4, 3, 2, 1, tzinfo=UTC)


def test_the_repr_names_no_part_and_no_secret(service: Service, actor: Actor) -> None:
    created = sendgrid_connection(service, actor)
    service.credentials.resolve(actor, created.id)  # a warm cache holds the secret
    shown = repr(service) + str(service) + repr(service.internals)
    assert repr(service) == "Service()"
    parts = [f.name for f in dataclasses.fields(Service)]
    assert not [name for name in parts if name in repr(service)]
    for secret in (GOOD_SENDGRID, MASTER_KEY, MASTER_KEY.split(":", 1)[1]):
        assert secret not in shown


def test_every_part_is_built_and_they_share_one_context(service: Service) -> None:
    hints = typing.get_type_hints(Service)
    built = {}
    for part in dataclasses.fields(Service):
        value = getattr(service, part.name)
        assert isinstance(value, hints[part.name]), part.name
        built[part.name] = value
    with_context = [name for name, value in built.items() if hasattr(value, "ctx")]
    assert {"access", "apps", "connections", "oauth_clients", "authorizations", "flows"} <= set(
        with_context
    )
    assert {"runs", "webhooks", "audit", "transfer", "system"} <= set(with_context)
    assert all(built[name].ctx is service.context for name in with_context)
    assert isinstance(service.internals, Internals)
    assert service.access.keys is service.internals.keys  # revoking forgets the key it cached
    assert service.context.registry.catalog is service.internals.catalog


def test_a_clock_set_on_the_context_holds_for_every_part(service: Service, actor: Actor) -> None:
    service.context.clock = lambda: MOVED
    key = service.access.create_key(
        actor, name="later", role="runtime", expires_in=timedelta(hours=1)
    )
    project = service.system.create_project("later")
    connection = service.connections.create(
        actor, app="sendgrid", name="Mail", fields={"api_key": GOOD_SENDGRID}
    )
    hook = service.webhooks.add(actor, url="https://hooks.example.com/x")
    client = service.oauth_clients.register(
        actor, app="github", client_id="gh-client", client_secret="gh-secret"
    )
    session = service.authorizations.start(actor, app="github")
    worker = service.system.authenticate(key.token)
    service.credentials.resolve(worker, connection.id)

    made = [key, project, connection, hook, client, session]
    assert [m.created_at for m in made] == [MOVED] * len(made)
    assert session.expires_at == MOVED + timedelta(minutes=10)
    assert key.expires_at == MOVED + timedelta(hours=1)
    read = service.audit.events(actor, object_id=connection.id)[0]
    assert (read.action, read.at) == ("credentials.read", MOVED)
    assert service.connections.get(actor, connection.id).last_used_at == MOVED

    service.context.clock = lambda: MOVED + timedelta(hours=2)  # past the key's expiry
    with pytest.raises(AuthenticationFailed):
        service.system.authenticate(key.token)
    assert service.authorizations.status(actor, session.id).error_code == "oauth_session_expired"

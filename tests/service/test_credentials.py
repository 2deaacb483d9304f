"""``service.credentials``: the resolver reads a stamp, reuses what it made of it, and never
serves a stale secret, status or rule (another replica's changes are seen at once)."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest

from gatekey.errors import ConnectionInactive, MissingScopes
from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, ConnectionService
from gatekey.settings import Settings
from gatekey.store import connections as rows
from tests.fakes.echo_provider import app_definitions
from tests.fakes.providers import FakeProviders
from tests.fakes.sandbox import Sandbox, connect


@pytest.fixture
def replicas(settings: Settings, providers: FakeProviders) -> Iterator[tuple[Runtime, Runtime]]:
    one = open_runtime(settings, transport=providers.transport())
    two = open_runtime(settings, transport=providers.transport())
    yield one, two
    one.close()
    two.close()


def _sendgrid(service: ConnectionService, actor: Actor, key: str = "SG.first.value") -> str:
    return service.create_connection(
        actor, app="sendgrid", name="SG", fields={"api_key": key}, validate=False
    ).id


def test_a_change_made_by_another_replica_is_served_at_once(
    replicas: tuple[Runtime, Runtime],
) -> None:
    one, two = replicas
    actor = Actor.operator(one.service.bootstrap()[0].id)
    made = _sendgrid(one.service, actor)
    assert one.service.resolve_credentials(actor, made).fields["api_key"] == "SG.first.value"
    assert len(one.service.resolver.cache) == 1
    two.service.update_connection(
        actor, made, fields={"api_key": "SG.second.value"}, validate=False
    )
    again = one.service.resolve_credentials(actor, made)
    assert again.fields["api_key"] == "SG.second.value"
    assert len(one.service.resolver.cache) == 1, "the older reading left the cache"
    again.fields["api_key"] = "changed by the caller"
    assert one.service.resolve_credentials(actor, made).fields["api_key"] == "SG.second.value"


def test_another_replicas_deactivation_refuses_at_once_naming_the_connection(
    replicas: tuple[Runtime, Runtime],
) -> None:
    one, two = replicas
    actor = Actor.operator(one.service.bootstrap()[0].id)
    made = _sendgrid(one.service, actor)
    one.service.resolve_credentials(actor, made)
    with two.db.write() as conn:
        rows.set_values(
            conn,
            actor.project_id,
            made,
            {"status": "inactive", "status_reason": "revoked", "status_message": "key revoked"},
        )
    with pytest.raises(ConnectionInactive) as caught:
        one.service.resolve_credentials(actor, made)
    assert caught.value.message == (
        f"connection 'SG' ({made}) is inactive: key revoked; reconnect it"
    )
    assert caught.value.details["reason"] == "revoked"


def test_a_warm_resolution_reads_two_columns_and_decrypts_nothing(
    service: ConnectionService, actor: Actor
) -> None:
    made = _sendgrid(service, actor)
    service.resolve_credentials(actor, made)
    reader = service.secrets
    with (
        mock.patch.object(reader, "read", wraps=reader.read) as read,
        mock.patch.object(reader, "whole", wraps=reader.whole) as whole,
        mock.patch.object(reader, "stamp", wraps=reader.stamp) as stamp,
        mock.patch.object(service.vault, "open", wraps=service.vault.open) as decrypt,
    ):
        for _ in range(3):
            assert service.resolve_credentials(actor, made).fields == {"api_key": "SG.first.value"}
    assert (stamp.call_count, read.call_count, whole.call_count, decrypt.call_count) == (3, 0, 0, 0)


def test_details_are_read_only_for_an_error(service: ConnectionService, actor: Actor) -> None:
    made = _sendgrid(service, actor)
    reader = service.secrets
    with mock.patch.object(reader, "whole", wraps=reader.whole) as whole:
        service.resolve_credentials(actor, made)
        assert whole.call_count == 0
        with pytest.raises(MissingScopes, match="'SG'"):
            service.resolve_credentials(actor, made, required_scopes=["mail.send"])
        assert whole.call_count == 1


def test_what_is_handed_out_is_the_callers_own(service: ConnectionService, actor: Actor) -> None:
    made = _sendgrid(service, actor)
    first = service.resolve_credentials(actor, made)
    first.fields["api_key"] = "x"
    first.config["x"] = 1
    first.headers["X-Injected"] = "1"
    second = service.resolve_credentials(actor, made)
    assert second.fields == {"api_key": "SG.first.value"} and second.config == {}
    assert "X-Injected" not in second.headers
    assert second.headers == {"Authorization": "Bearer SG.first.value"}


def test_a_cached_reading_follows_the_app_definition(
    service: ConnectionService, actor: Actor
) -> None:
    definition = app_definitions("https://echo.example.com")[0]
    service.add_app(actor, definition)
    made = service.create_connection(
        actor, app=definition["key"], name="Echo", fields={"api_key": "k1"}, validate=False
    ).id
    assert service.resolve_credentials(actor, made).headers == {"X-Api-Key": "k1"}
    definition["auth"][0]["apply"][0]["name"] = "X-Other-Key"
    service.replace_app(actor, definition["key"], definition)
    assert service.resolve_credentials(actor, made).headers == {"X-Other-Key": "k1"}


def test_resolve_here_only_for_what_cannot_wait_on_a_network(
    service: ConnectionService, actor: Actor
) -> None:
    made = _sendgrid(service, actor)
    resolver = service.resolver
    assert resolver.resolve_here(actor, made) is None, "not resolved before: the pool decides"
    service.resolve_credentials(actor, made)
    local = service.db.is_sqlite
    here = resolver.resolve_here(actor, made)
    assert (here is not None) is local, "inline on SQLite only"
    if here is not None:
        assert here.fields == {"api_key": "SG.first.value"}
    with mock.patch.object(service.limiter, "shared", True):
        assert resolver.resolve_here(actor, made) is None, "a shared limiter is a network"


def test_resolve_here_leaves_oauth2_to_resolve(
    oauth_service: ConnectionService, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    oauth_service.resolve_credentials(oauth_actor, connection_id)
    assert oauth_service.resolver.resolve_here(oauth_actor, connection_id) is None

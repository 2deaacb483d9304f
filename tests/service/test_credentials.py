"""``service.credentials``: the resolver reads a stamp, reuses what it made of it, and never
serves a stale secret, status or rule (another replica's changes are seen at once)."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest
from sqlalchemy import select, update

from gatekey.errors import (
    ConnectionInactive,
    DecryptionFailed,
    MissingScopes,
)
from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.store import connections as rows
from gatekey.store.tables import connections
from tests.fakes.echo_provider import app_definitions
from tests.fakes.providers import (
    GOOD_SENDGRID,
    GOOD_TWILIO_TOKEN,
    TWILIO_SID,
    FakeProviders,
    sendgrid_connection,
)
from tests.fakes.sandbox import Sandbox, connect


@pytest.fixture
def replicas(settings: Settings, providers: FakeProviders) -> Iterator[tuple[Runtime, Runtime]]:
    one = open_runtime(settings, transport=providers.transport())
    two = open_runtime(settings, transport=providers.transport())
    yield one, two
    one.close()
    two.close()


def _sendgrid(service: Service, actor: Actor, key: str = "SG.first.value") -> str:
    return service.connections.create(
        actor, app="sendgrid", name="SG", fields={"api_key": key}, validate=False
    ).id


def test_a_change_made_by_another_replica_is_served_at_once(
    replicas: tuple[Runtime, Runtime],
) -> None:
    one, two = replicas
    actor = Actor.operator(one.service.system.bootstrap()[0].id)
    made = _sendgrid(one.service, actor)
    assert one.service.credentials.resolve(actor, made).fields["api_key"] == "SG.first.value"
    assert len(one.service.credentials.cache) == 1
    two.service.connections.update(
        actor, made, fields={"api_key": "SG.second.value"}, validate=False
    )
    again = one.service.credentials.resolve(actor, made)
    assert again.fields["api_key"] == "SG.second.value"
    assert len(one.service.credentials.cache) == 1, "the older reading left the cache"
    again.fields["api_key"] = "changed by the caller"
    assert one.service.credentials.resolve(actor, made).fields["api_key"] == "SG.second.value"


def test_another_replicas_deactivation_refuses_at_once_naming_the_connection(
    replicas: tuple[Runtime, Runtime],
) -> None:
    one, two = replicas
    actor = Actor.operator(one.service.system.bootstrap()[0].id)
    made = _sendgrid(one.service, actor)
    one.service.credentials.resolve(actor, made)
    with two.db.write() as conn:
        rows.set_values(
            conn,
            actor.project_id,
            made,
            {"status": "inactive", "status_reason": "revoked", "status_message": "key revoked"},
        )
    with pytest.raises(ConnectionInactive) as caught:
        one.service.credentials.resolve(actor, made)
    assert caught.value.message == (
        f"connection 'SG' ({made}) is inactive: key revoked; give it new credentials"
    )
    assert caught.value.details["reason"] == "revoked"


def test_a_warm_resolution_reads_two_columns_and_decrypts_nothing(
    service: Service, actor: Actor
) -> None:
    made = _sendgrid(service, actor)
    service.credentials.resolve(actor, made)
    reader = service.internals.secrets
    with (
        mock.patch.object(reader, "read", wraps=reader.read) as read,
        mock.patch.object(reader, "whole", wraps=reader.whole) as whole,
        mock.patch.object(reader, "stamp", wraps=reader.stamp) as stamp,
        mock.patch.object(
            service.context.vault, "open", wraps=service.context.vault.open
        ) as decrypt,
    ):
        for _ in range(3):
            assert service.credentials.resolve(actor, made).fields == {"api_key": "SG.first.value"}
    assert (stamp.call_count, read.call_count, whole.call_count, decrypt.call_count) == (3, 0, 0, 0)


def test_details_are_read_only_for_an_error(service: Service, actor: Actor) -> None:
    made = _sendgrid(service, actor)
    reader = service.internals.secrets
    with mock.patch.object(reader, "whole", wraps=reader.whole) as whole:
        service.credentials.resolve(actor, made)
        assert whole.call_count == 0
        with pytest.raises(MissingScopes, match="'SG'"):
            service.credentials.resolve(actor, made, required_scopes=["mail.send"])
        assert whole.call_count == 1


def test_what_is_handed_out_is_the_callers_own(service: Service, actor: Actor) -> None:
    made = _sendgrid(service, actor)
    first = service.credentials.resolve(actor, made)
    first.fields["api_key"] = "x"
    first.config["x"] = 1
    first.headers["X-Injected"] = "1"
    second = service.credentials.resolve(actor, made)
    assert second.fields == {"api_key": "SG.first.value"}
    assert second.config == {"api_host": "api.sendgrid.com"}, "the region's default, not x"
    assert "X-Injected" not in second.headers
    assert second.headers == {"Authorization": "Bearer SG.first.value"}


def test_a_cached_reading_follows_the_app_definition(service: Service, actor: Actor) -> None:
    definition = app_definitions("https://echo.example.com")[0]
    service.apps.add(actor, definition)
    made = service.connections.create(
        actor, app=definition["key"], name="Echo", fields={"api_key": "k1"}, validate=False
    ).id
    assert service.credentials.resolve(actor, made).headers == {"X-Api-Key": "k1"}
    definition["auth"][0]["apply"][0]["name"] = "X-Other-Key"
    service.apps.replace(actor, definition["key"], definition)
    assert service.credentials.resolve(actor, made).headers == {"X-Other-Key": "k1"}


def test_resolve_returns_ready_to_apply_credentials(
    service: Service, actor: Actor, runtime: Runtime
) -> None:
    twilio = service.connections.create(
        actor,
        app="twilio",
        name="Twilio",
        fields={"account_sid": TWILIO_SID, "auth_token": GOOD_TWILIO_TOKEN},
    )
    creds = service.credentials.resolve(actor, twilio.id)
    assert creds.basic is not None
    assert (creds.basic.username, creds.basic.password) == (TWILIO_SID, GOOD_TWILIO_TOKEN)
    assert creds.base_url == "https://api.twilio.com"
    assert creds.fields["auth_token"] == GOOD_TWILIO_TOKEN
    assert GOOD_TWILIO_TOKEN not in repr(creds) + str(creds)
    runtime.service.context.audit.flush()
    after = service.connections.get(actor, twilio.id)
    assert after.last_used_at is not None
    trail = service.connections.audit_trail(actor, twilio.id)
    assert [e.action for e in trail][:2] == ["credentials.read", "connection.create"]
    assert trail[0].actor == actor.key_id


def test_inactive_connection_fails_resolution_naming_it(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    created = sendgrid_connection(service, actor)
    providers.accepted.clear()
    result = service.connections.test(actor, created.id)
    assert not result.ok
    broken = service.connections.get(actor, created.id)
    assert (broken.status, broken.status_reason) == ("inactive", "invalid_credentials")
    assert [c.id for c in service.connections.list(actor, status="inactive").items] == [created.id]
    with pytest.raises(ConnectionInactive) as caught:
        service.credentials.resolve(actor, created.id)
    assert "SendGrid - Production" in caught.value.message
    providers.accepted.add(GOOD_SENDGRID)
    assert service.connections.test(actor, created.id).ok
    assert service.connections.get(actor, created.id).status == "active"


def test_tampered_or_moved_ciphertext_fails_clearly(service: Service, actor: Actor) -> None:
    first = sendgrid_connection(service, actor)
    second = sendgrid_connection(service, actor, name="Second")
    with service.context.db.write() as conn:
        row = conn.execute(
            select(connections.c.secret_ciphertext).where(connections.c.id == first.id)
        ).scalar_one()
        flipped = bytearray(row)
        flipped[20] ^= 0x01
        conn.execute(
            update(connections)
            .where(connections.c.id == first.id)
            .values(secret_ciphertext=bytes(flipped))
        )
    with pytest.raises(DecryptionFailed) as caught:
        service.credentials.resolve(actor, first.id)
    assert first.id in caught.value.message
    with service.context.db.write() as conn:
        source = conn.execute(
            select(connections.c.secret_ciphertext, connections.c.dek_wrapped).where(
                connections.c.id == second.id
            )
        ).one()
        conn.execute(
            update(connections)
            .where(connections.c.id == first.id)
            .values(secret_ciphertext=source.secret_ciphertext, dek_wrapped=source.dek_wrapped)
        )
    with pytest.raises(DecryptionFailed):
        service.credentials.resolve(actor, first.id)
    assert service.credentials.resolve(actor, second.id).fields["api_key"] == GOOD_SENDGRID


def test_resolve_here_only_for_what_cannot_wait_on_a_network(
    service: Service, actor: Actor
) -> None:
    made = sendgrid_connection(service, actor, validate=False).id
    resolver = service.credentials
    assert resolver.resolve_here(actor, made) is None, "not resolved before: the pool decides"
    service.credentials.resolve(actor, made)
    local = service.context.db.is_sqlite
    here = resolver.resolve_here(actor, made)
    assert (here is not None) is local, "inline on SQLite only"
    if here is not None:
        assert here.fields == {"api_key": GOOD_SENDGRID}
    with mock.patch.object(service.internals.limiter, "shared", True):
        assert resolver.resolve_here(actor, made) is None, "a shared limiter is a network"


def test_resolve_here_leaves_oauth2_to_resolve(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    oauth_service.credentials.resolve(oauth_actor, connection_id)
    assert oauth_service.credentials.resolve_here(oauth_actor, connection_id) is None

"""``service.key_cache``: API keys authenticated from memory, with the revocation window the
module documents (at once through this process, within the TTL through another)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from unittest import mock

import pytest

from gatekey.errors import AuthenticationFailed
from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor
from gatekey.settings import Settings
from tests.fakes.providers import FakeProviders


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def replicas(settings: Settings, providers: FakeProviders) -> Iterator[tuple[Runtime, Runtime]]:
    one = open_runtime(settings, transport=providers.transport())
    two = open_runtime(settings, transport=providers.transport())
    yield one, two
    one.close()
    two.close()


def test_a_key_revoked_through_another_replica_is_refused_within_the_ttl(
    replicas: tuple[Runtime, Runtime],
) -> None:
    one, two = replicas
    ticks = Ticks()
    one.service.internals.keys.monotonic = ticks  # the cache's own clock, travelled by hand
    operator = Actor.operator(one.service.system.bootstrap()[0].id)
    key = one.service.access.create_key(operator, name="worker", role="runtime")
    assert one.service.system.authenticate(key.token).key_id == key.id
    two.service.access.revoke_key(operator, key.id)
    ticks.now += 4.9
    assert one.service.system.authenticate(key.token).key_id == key.id, "inside the window"
    assert one.service.system.cached_actor(key.token) is not None
    ticks.now += 0.2
    assert one.service.system.cached_actor(key.token) is None
    with pytest.raises(AuthenticationFailed):
        one.service.system.authenticate(key.token)
    with pytest.raises(AuthenticationFailed):
        two.service.system.authenticate(key.token)


def test_revoked_through_this_process_it_is_refused_at_once(runtime: Runtime, actor: Actor) -> None:
    service = runtime.service
    key = service.access.create_key(actor, name="worker", role="runtime")
    service.system.authenticate(key.token)
    service.access.revoke_key(actor, key.id)
    assert service.system.cached_actor(key.token) is None
    with pytest.raises(AuthenticationFailed):
        service.system.authenticate(key.token)


def test_a_cached_key_is_read_once_and_expires_on_time(runtime: Runtime, actor: Actor) -> None:
    service = runtime.service
    key = service.access.create_key(
        actor, name="short", role="admin", expires_in=timedelta(hours=1)
    )
    with mock.patch.object(service.context.db, "read", wraps=service.context.db.read) as reads:
        for _ in range(5):
            assert service.system.authenticate(key.token).key_id == key.id
    assert reads.call_count == 1
    real = service.context.clock
    service.context.clock = lambda: real() + timedelta(hours=1, seconds=1)
    assert service.system.cached_actor(key.token) is None
    with pytest.raises(AuthenticationFailed):
        service.system.authenticate(key.token)


def test_no_cache_reads_the_key_every_time(settings: Settings, providers: FakeProviders) -> None:
    runtime = open_runtime(
        settings.model_copy(update={"api_key_cache_seconds": 0}), transport=providers.transport()
    )
    try:
        service = runtime.service
        operator = Actor.operator(service.system.bootstrap()[0].id)
        key = service.access.create_key(operator, name="worker", role="runtime")
        service.system.authenticate(key.token)
        assert service.system.cached_actor(key.token) is None
    finally:
        runtime.close()

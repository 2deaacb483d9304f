"""The decrypted-secret cache: bounded, keyed by ciphertext, and never serving a stale secret
(another replica changing a secret writes a new ciphertext, which this one reads next time)."""

from __future__ import annotations

from gatekey.crypto.cache import SecretCache
from gatekey.runtime import open_runtime
from gatekey.service import Actor
from gatekey.settings import Settings
from tests.fakes.providers import FakeProviders


def test_bounded_oldest_out() -> None:
    cache = SecretCache(max_entries=3)
    for n in range(5):
        cache.put(("p", f"c{n}", b"x"), {"n": n})
    assert len(cache) == 3
    assert cache.get(("p", "c0", b"x")) is None
    assert cache.get(("p", "c4", b"x")) == {"n": 4}
    cache.clear()
    assert len(cache) == 0
    off = SecretCache(max_entries=0)
    off.put(("p", "c", b"x"), {})
    assert len(off) == 0


def test_a_change_made_by_another_replica_is_served_at_once(
    settings: Settings, providers: FakeProviders
) -> None:
    one = open_runtime(settings, transport=providers.transport())
    two = open_runtime(settings, transport=providers.transport())
    try:
        actor = Actor.operator(one.service.bootstrap()[0].id)
        made = one.service.create_connection(
            actor, app="sendgrid", name="SG", fields={"api_key": "SG.first.value"}, validate=False
        )
        assert one.service.resolve_credentials(actor, made.id).fields["api_key"] == "SG.first.value"
        assert len(one.service._opened) == 1
        two.service.update_connection(
            actor, made.id, fields={"api_key": "SG.second.value"}, validate=False
        )
        again = one.service.resolve_credentials(actor, made.id)
        assert again.fields["api_key"] == "SG.second.value"
        assert len(one.service._opened) == 1, "the older secret left the cache"
        again.fields["api_key"] = "changed by the caller"
        assert (
            one.service.resolve_credentials(actor, made.id).fields["api_key"] == "SG.second.value"
        )
    finally:
        one.close()
        two.close()

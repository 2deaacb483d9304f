"""The bounded cache of decrypted secrets: oldest out, one entry per object."""

from __future__ import annotations

from gatekey.crypto.cache import SecretCache


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


def test_a_newer_entry_replaces_the_objects_older_one() -> None:
    cache: SecretCache[dict[str, int]] = SecretCache()
    cache.put(("p", "c", 1, b"old"), {"v": 1})
    cache.put(("p", "c", 2, b"new"), {"v": 2})
    assert cache.get(("p", "c", 1, b"old")) is None
    assert cache.get(("p", "c", 2, b"new")) == {"v": 2}
    assert len(cache) == 1

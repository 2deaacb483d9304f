from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from gatekey.crypto.keys import EnvKeyProvider, FileKeyProvider, KeyRing, generate, parse_entries
from gatekey.errors import CryptoError, MasterKeyMissing


def test_file_provider_creates_a_0600_key_file(tmp_path: Path) -> None:
    provider = FileKeyProvider(tmp_path / "home" / "master.key")
    ring = provider.load()
    assert provider.created
    mode = stat.S_IMODE((tmp_path / "home" / "master.key").stat().st_mode)
    assert mode == 0o600
    assert len(ring.primary.material) == 32
    again = FileKeyProvider(tmp_path / "home" / "master.key")
    assert again.load().primary.id == ring.primary.id
    assert not again.created


def test_file_provider_refuses_a_readable_key_file(tmp_path: Path) -> None:
    provider = FileKeyProvider(tmp_path / "master.key")
    provider.load()
    os.chmod(tmp_path / "master.key", 0o644)
    with pytest.raises(CryptoError, match="chmod 600"):
        provider.load()


def test_add_puts_the_new_key_first_and_remove_drops_it(tmp_path: Path) -> None:
    provider = FileKeyProvider(tmp_path / "master.key")
    first = provider.load().primary
    new = generate()
    provider.add(new)
    ring = provider.load()
    assert ring.ids == [new.id, first.id]
    provider.remove(first.id)
    assert provider.load().ids == [new.id]


def test_env_entries_are_ordered_and_first_encrypts() -> None:
    a, b = base64.b64encode(b"a" * 32).decode(), base64.b64encode(b"b" * 32).decode()
    ring = EnvKeyProvider(f"k2:{b}, k1:{a}").load()
    assert ring.primary.id == "k2"
    assert ring.get("k1") == b"a" * 32


@pytest.mark.parametrize(
    "text",
    ["nocolon", "k1:not-base64!", "k1:" + base64.b64encode(b"short").decode(), "bad id:AAAA"],
)
def test_bad_entries_are_refused_without_echoing_material(text: str) -> None:
    with pytest.raises(CryptoError) as caught:
        parse_entries(text, "GATEKEY_MASTER_KEYS")
    assert text.partition(":")[2] not in caught.value.message or not text.partition(":")[2]


def test_missing_key_is_named() -> None:
    ring = KeyRing([generate()])
    with pytest.raises(MasterKeyMissing, match="'gone'"):
        ring.get("gone")


def test_repr_hides_material() -> None:
    key = generate()
    assert base64.b64encode(key.material).decode() not in repr(key)
    assert repr(key) == f"MasterKey(id={key.id!r})"


def test_generated_ids_avoid_the_taken_ones() -> None:
    from datetime import UTC, datetime

    from gatekey.crypto.keys import generate

    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    taken: set[str] = set()
    for _ in range(2000):  # one second's worth of rotations and more
        key = generate(now, taken=taken)
        assert key.id not in taken and key.id.startswith("mk-20261130-120000-")
        taken.add(key.id)

from __future__ import annotations

import os

import pytest

from gatekey.crypto.envelope import Binding, open_sealed, rewrap, seal
from gatekey.errors import DecryptionFailed

KEY = os.urandom(32)
HERE = Binding("proj_A", "conn_1")


def test_round_trip() -> None:
    sealed = seal(b"secret-payload", HERE, "k1", KEY)
    assert open_sealed(sealed, HERE, KEY) == b"secret-payload"
    assert b"secret-payload" not in sealed.ciphertext + sealed.wrapped_key


def test_every_flipped_byte_fails() -> None:
    sealed = seal(b"secret-payload", HERE, "k1", KEY)
    for index in range(len(sealed.ciphertext)):
        blob = bytearray(sealed.ciphertext)
        blob[index] ^= 0x01
        with pytest.raises(DecryptionFailed):
            open_sealed(type(sealed)(bytes(blob), sealed.wrapped_key, "k1"), HERE, KEY)
    for index in range(len(sealed.wrapped_key)):
        blob = bytearray(sealed.wrapped_key)
        blob[index] ^= 0x80
        with pytest.raises(DecryptionFailed):
            open_sealed(type(sealed)(sealed.ciphertext, bytes(blob), "k1"), HERE, KEY)


@pytest.mark.parametrize("elsewhere", [Binding("proj_A", "conn_2"), Binding("proj_B", "conn_1")])
def test_moved_ciphertext_fails(elsewhere: Binding) -> None:
    sealed = seal(b"secret-payload", HERE, "k1", KEY)
    with pytest.raises(DecryptionFailed) as caught:
        open_sealed(sealed, elsewhere, KEY)
    assert "altered or does not belong" in caught.value.message


def test_wrong_master_key_or_key_id_fails() -> None:
    sealed = seal(b"x", HERE, "k1", KEY)
    with pytest.raises(DecryptionFailed):
        open_sealed(sealed, HERE, os.urandom(32))
    with pytest.raises(DecryptionFailed):
        open_sealed(type(sealed)(sealed.ciphertext, sealed.wrapped_key, "k2"), HERE, KEY)


def test_truncated_blob_is_malformed() -> None:
    sealed = seal(b"x", HERE, "k1", KEY)
    with pytest.raises(DecryptionFailed, match="malformed"):
        open_sealed(type(sealed)(sealed.ciphertext[:10], sealed.wrapped_key, "k1"), HERE, KEY)


def test_rewrap_changes_only_the_wrapped_key() -> None:
    new_key = os.urandom(32)
    sealed = seal(b"payload", HERE, "k1", KEY)
    moved = rewrap(sealed, HERE, KEY, "k2", new_key)
    assert moved.ciphertext == sealed.ciphertext
    assert moved.key_id == "k2"
    assert open_sealed(moved, HERE, new_key) == b"payload"
    with pytest.raises(DecryptionFailed):
        open_sealed(moved, HERE, KEY)


def test_repr_shows_no_bytes() -> None:
    sealed = seal(b"payload", HERE, "k1", KEY)
    assert repr(sealed) == f"Sealed(key_id='k1', bytes={len(sealed.ciphertext)})"

"""Hypothesis: the envelope round-trips anything, and any change or move of the sealed data
fails, whatever the payload, the binding, the byte changed or the key."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gatekey.crypto.envelope import Binding, Sealed, open_sealed, rewrap, seal
from gatekey.errors import DecryptionFailed

KEY = os.urandom(32)
ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=30)
bindings = st.builds(Binding, ids, ids)


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=2048), binding=bindings)
def test_round_trip(payload: bytes, binding: Binding) -> None:
    sealed = seal(payload, binding, "k1", KEY)
    assert open_sealed(sealed, binding, KEY) == payload
    if len(payload) >= 8:
        assert payload not in sealed.ciphertext


@settings(max_examples=300, deadline=None)
@given(
    payload=st.binary(min_size=1, max_size=512),
    binding=bindings,
    which=st.sampled_from(["ciphertext", "wrapped_key"]),
    position=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_tampered_byte_fails(
    payload: bytes, binding: Binding, which: str, position: int, flip: int
) -> None:
    sealed = seal(payload, binding, "k1", KEY)
    blob = bytearray(getattr(sealed, which))
    blob[position % len(blob)] ^= flip
    changed = Sealed(
        bytes(blob) if which == "ciphertext" else sealed.ciphertext,
        bytes(blob) if which == "wrapped_key" else sealed.wrapped_key,
        sealed.key_id,
    )
    with pytest.raises(DecryptionFailed):
        open_sealed(changed, binding, KEY)


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=256), here=bindings, there=bindings)
def test_a_moved_envelope_fails(payload: bytes, here: Binding, there: Binding) -> None:
    sealed = seal(payload, here, "k1", KEY)
    if there == here:
        assert open_sealed(sealed, there, KEY) == payload
    else:
        with pytest.raises(DecryptionFailed):
            open_sealed(sealed, there, KEY)


@settings(max_examples=100, deadline=None)
@given(payload=st.binary(max_size=256), binding=bindings, truncate=st.integers(1, 64))
def test_truncated_or_wrong_key_fails(payload: bytes, binding: Binding, truncate: int) -> None:
    sealed = seal(payload, binding, "k1", KEY)
    short = Sealed(sealed.ciphertext[:-truncate], sealed.wrapped_key, sealed.key_id)
    with pytest.raises(DecryptionFailed):
        open_sealed(short, binding, KEY)
    with pytest.raises(DecryptionFailed):
        open_sealed(sealed, binding, os.urandom(32))


@settings(max_examples=100, deadline=None)
@given(payload=st.binary(max_size=256), binding=bindings)
def test_rewrap_keeps_the_payload_and_retires_the_old_key(payload: bytes, binding: Binding) -> None:
    new_key = os.urandom(32)
    sealed = seal(payload, binding, "k1", KEY)
    moved = rewrap(sealed, binding, KEY, "k2", new_key)
    assert moved.key_id == "k2" and moved.ciphertext == sealed.ciphertext
    assert open_sealed(moved, binding, new_key) == payload
    with pytest.raises(DecryptionFailed):
        open_sealed(moved, binding, KEY)

"""Envelope encryption of connection secrets with AES-256-GCM (NIST SP 800-38D).

Each connection has its own random 256-bit data key. The payload is encrypted with the data key;
the data key is wrapped (encrypted) with a versioned master key. Both ciphertexts carry
associated data naming the project and the connection, so a ciphertext copied onto another row,
or a byte flipped anywhere, fails authentication instead of decrypting to something.

Formats (``v1``): ``0x01 || nonce(12) || ciphertext+tag``, for the payload and for the wrapped
data key alike. Rotating a master key rewraps the data key only; the payload never changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gatekey.errors import DecryptionFailed

FORMAT_V1 = b"\x01"
NONCE_BYTES = 12
KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class Binding:
    """What a ciphertext belongs to; becomes the associated data."""

    project_id: str
    object_id: str

    def aad(self, purpose: bytes) -> bytes:
        return (
            b"gatekey|v1|"
            + purpose
            + b"|"
            + self.project_id.encode()
            + b"|"
            + self.object_id.encode()
        )


@dataclass(frozen=True, slots=True)
class Sealed:
    """A sealed payload as stored: the ciphertext, the wrapped data key and its master key id."""

    ciphertext: bytes
    wrapped_key: bytes
    key_id: str

    def __repr__(self) -> str:
        return f"Sealed(key_id={self.key_id!r}, bytes={len(self.ciphertext)})"


def _encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT_V1 + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _decrypt(key: bytes, blob: bytes, aad: bytes, what: str, binding: Binding) -> bytes:
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != FORMAT_V1:
        raise DecryptionFailed(
            f"{what} of {binding.object_id} is malformed", object_id=binding.object_id
        )
    try:
        return AESGCM(key).decrypt(blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], aad)
    except InvalidTag:
        raise DecryptionFailed(
            f"{what} of {binding.object_id} failed authentication: it was altered or does not "
            "belong to this object",
            object_id=binding.object_id,
        ) from None


def seal(plaintext: bytes, binding: Binding, master_key_id: str, master_key: bytes) -> Sealed:
    """Encrypt ``plaintext`` under a fresh data key wrapped by the given master key."""
    data_key = AESGCM.generate_key(bit_length=256)
    return Sealed(
        ciphertext=_encrypt(data_key, plaintext, binding.aad(b"payload")),
        wrapped_key=_encrypt(master_key, data_key, binding.aad(b"dek|" + master_key_id.encode())),
        key_id=master_key_id,
    )


def unwrap(sealed: Sealed, binding: Binding, master_key: bytes) -> bytes:
    """Return the data key of ``sealed``."""
    aad = binding.aad(b"dek|" + sealed.key_id.encode())
    return _decrypt(master_key, sealed.wrapped_key, aad, "data key", binding)


def open_sealed(sealed: Sealed, binding: Binding, master_key: bytes) -> bytes:
    """Decrypt ``sealed``; raise ``DecryptionFailed`` if anything was altered or moved."""
    data_key = unwrap(sealed, binding, master_key)
    return _decrypt(data_key, sealed.ciphertext, binding.aad(b"payload"), "secret", binding)


def rewrap(
    sealed: Sealed, binding: Binding, old_key: bytes, new_key_id: str, new_key: bytes
) -> Sealed:
    """Re-encrypt the data key under another master key; the payload is untouched."""
    data_key = unwrap(sealed, binding, old_key)
    wrapped = _encrypt(new_key, data_key, binding.aad(b"dek|" + new_key_id.encode()))
    return Sealed(ciphertext=sealed.ciphertext, wrapped_key=wrapped, key_id=new_key_id)

"""Sealing exported secrets with a passphrase: scrypt for the key, AES-256-GCM per value.

An export file never holds a secret in plaintext unless the operator asks for it. The file's
header carries the scrypt salt and parameters; each secret payload is sealed on its own with
a random nonce and the connection's position as associated data, so payloads cannot be
swapped between entries unnoticed.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from gatekey.errors import DecryptionFailed, InvalidInput

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
MIN_PASSPHRASE = 12


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except ValueError:
        raise InvalidInput("the export file is damaged (bad base64)") from None


class PassphraseBox:
    """Seal and open JSON payloads under a key derived from a passphrase."""

    def __init__(self, passphrase: str, header: dict[str, Any] | None = None) -> None:
        if len(passphrase) < MIN_PASSPHRASE:
            raise InvalidInput(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
        if header is None:
            header = {"kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P}
            header["salt"] = _b64(os.urandom(16))
        if header.get("kdf") != "scrypt":
            raise InvalidInput("the export file uses an unknown key derivation")
        self.header = header
        kdf = Scrypt(
            salt=_unb64(header["salt"]),
            length=32,
            n=int(header["n"]),
            r=int(header["r"]),
            p=int(header["p"]),
        )
        self._aead = AESGCM(kdf.derive(passphrase.encode()))
        if "check" not in header:
            header["check"] = self.seal({"check": "gatekey"}, -1)
        else:
            self.open(header["check"], -1)  # a wrong passphrase fails here, for the whole file

    def seal(self, payload: dict[str, Any], position: int) -> dict[str, str]:
        nonce = os.urandom(12)
        data = json.dumps(payload, separators=(",", ":")).encode()
        sealed = self._aead.encrypt(nonce, data, f"gatekey-export/{position}".encode())
        return {"nonce": _b64(nonce), "ciphertext": _b64(sealed)}

    def open(self, box: dict[str, Any], position: int) -> dict[str, Any]:
        try:
            data = self._aead.decrypt(
                _unb64(box["nonce"]),
                _unb64(box["ciphertext"]),
                f"gatekey-export/{position}".encode(),
            )
        except (InvalidTag, KeyError, TypeError):
            raise DecryptionFailed(
                "cannot decrypt the export: wrong passphrase, or the file was changed"
            ) from None
        value = json.loads(data)
        if not isinstance(value, dict):
            raise InvalidInput("the export file is damaged")
        return value

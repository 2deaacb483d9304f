"""Master keys: where they come from, which one encrypts, and how a new one is added.

Keys are an ordered list of ``id:base64`` entries; the first encrypts, the others still decrypt
what they wrapped until a rotation rewraps it. They come from ``GATEKEY_MASTER_KEYS`` (comma or
newline separated) or from ``$GATEKEY_HOME/master.key`` (one entry a line, mode 0600), which is
generated on first start. There is never a plaintext fallback.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from gatekey.crypto.envelope import KEY_BYTES
from gatekey.errors import CryptoError, MasterKeyMissing

_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class MasterKey:
    id: str
    material: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"MasterKey(id={self.id!r})"


class KeyRing:
    """The master keys available to this process; ``primary`` encrypts."""

    def __init__(self, keys: list[MasterKey]) -> None:
        if not keys:
            raise MasterKeyMissing("no master key is configured")
        ids = [k.id for k in keys]
        if len(ids) != len(set(ids)):
            raise CryptoError("master key ids must be unique")
        self._keys = {k.id: k for k in keys}
        self.primary = keys[0]
        self.ids = ids

    def get(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id].material
        except KeyError:
            raise MasterKeyMissing(
                f"master key {key_id!r} is not available; add it to GATEKEY_MASTER_KEYS "
                "or the master.key file",
                key_id=key_id,
            ) from None

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __repr__(self) -> str:
        return f"KeyRing(ids={self.ids!r})"


class KeyProvider(Protocol):
    """Supplies master keys; ``add`` is optional (environment keys cannot be added to)."""

    description: str

    def load(self) -> KeyRing: ...

    def add(self, key: MasterKey) -> None: ...

    def remove(self, key_id: str) -> None: ...


def generate(now: datetime | None = None, taken: Collection[str] = ()) -> MasterKey:
    """Return a new random 256-bit key with a sortable id (``mk-20261123-121500-ab12cd34``),
    none of ``taken`` (several rotations can happen within one second)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    while True:
        key_id = f"mk-{stamp}-{secrets.token_hex(4)}"
        if key_id not in taken:
            return MasterKey(id=key_id, material=os.urandom(KEY_BYTES))


def parse_entries(text: str, source: str) -> list[MasterKey]:
    """Parse ``id:base64`` entries; errors name the entry, never its material."""
    keys = []
    entries = [
        part.strip()
        for line in text.splitlines()
        if not line.strip().startswith("#")
        for part in line.split(",")
    ]
    for number, entry in enumerate((e for e in entries if e), start=1):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise CryptoError(f"{source}: entry {number} is not 'id:base64'")
        try:
            material = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError(f"{source}: key {key_id!r} is not valid base64") from None
        if len(material) != KEY_BYTES:
            raise CryptoError(f"{source}: key {key_id!r} must be {KEY_BYTES} bytes")
        keys.append(MasterKey(key_id, material))
    return keys


def format_entry(key: MasterKey) -> str:
    return f"{key.id}:{base64.b64encode(key.material).decode()}"


class EnvKeyProvider:
    """Keys from ``GATEKEY_MASTER_KEYS``; to rotate, put the new key first and run a rewrap."""

    def __init__(self, value: str) -> None:
        self._value = value
        self.description = "GATEKEY_MASTER_KEYS"

    def load(self) -> KeyRing:
        return KeyRing(parse_entries(self._value, self.description))

    def add(self, key: MasterKey) -> None:
        raise CryptoError(
            "master keys come from GATEKEY_MASTER_KEYS: put the new key first in that "
            "variable, then run 'gatekey keys rotate' to rewrap"
        )

    def remove(self, key_id: str) -> None:
        raise CryptoError(
            f"master keys come from GATEKEY_MASTER_KEYS: remove {key_id!r} from that variable"
        )


class FileKeyProvider:
    """Keys in a 0600 file, newest first; created with one key on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = str(path)
        self.created = False

    def load(self) -> KeyRing:
        if not self.path.exists():
            self._write([generate()])
            self.created = True
        info = self.path.stat()
        if info.st_uid != os.geteuid():
            raise CryptoError(
                f"{self.path} belongs to user id {info.st_uid}, not to the user running Gatekey "
                f"({os.geteuid()}); the master keys must be that user's alone"
            )
        mode = info.st_mode & 0o777
        if mode & 0o077:
            raise CryptoError(
                f"{self.path} must not be readable by others (mode {mode:o}); chmod 600"
            )
        return KeyRing(parse_entries(self.path.read_text("utf-8"), self.description))

    def add(self, key: MasterKey) -> None:
        current = parse_entries(self.path.read_text("utf-8"), self.description)
        self._write([key, *current])

    def remove(self, key_id: str) -> None:
        current = parse_entries(self.path.read_text("utf-8"), self.description)
        self._write([k for k in current if k.id != key_id])

    def _write(self, keys: list[MasterKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = (
            "# Gatekey master keys, newest first. Keep a backup; without them nothing decrypts.\n"
        )
        text += "".join(format_entry(k) + "\n" for k in keys)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".master.key.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

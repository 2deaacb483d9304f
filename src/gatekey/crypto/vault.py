"""Seal and open JSON secret payloads with the master keys of a ``KeyProvider``."""

from __future__ import annotations

import json
import threading
from typing import Any

from gatekey.crypto.envelope import Binding, Sealed, open_sealed, rewrap, seal
from gatekey.crypto.keys import KeyProvider, KeyRing
from gatekey.errors import DecryptionFailed, MasterKeyMissing


class Vault:
    """Encrypts with the primary master key; decrypts with whichever key wrapped the data.

    When data names a key this process has not loaded (another process rotated), the key ring
    is reloaded once from the provider before giving up.
    """

    def __init__(self, provider: KeyProvider) -> None:
        self.provider = provider
        self.ring: KeyRing = provider.load()
        self._reload_lock = threading.Lock()

    def reload(self) -> KeyRing:
        with self._reload_lock:
            self.ring = self.provider.load()
            return self.ring

    def key(self, key_id: str) -> bytes:
        if key_id not in self.ring:
            self.reload()
        return self.ring.get(key_id)

    def seal(self, project_id: str, object_id: str, payload: dict[str, Any]) -> Sealed:
        plaintext = json.dumps(payload, separators=(",", ":")).encode()
        key = self.ring.primary
        return seal(plaintext, Binding(project_id, object_id), key.id, key.material)

    def open(self, project_id: str, object_id: str, sealed: Sealed) -> dict[str, Any]:
        plaintext = open_sealed(sealed, Binding(project_id, object_id), self.key(sealed.key_id))
        try:
            value = json.loads(plaintext)
        except ValueError:
            raise DecryptionFailed(f"secret of {object_id} is not valid JSON") from None
        if not isinstance(value, dict):
            raise DecryptionFailed(f"secret of {object_id} is not an object")
        return value

    def rewrap(self, project_id: str, object_id: str, sealed: Sealed) -> Sealed:
        """Rewrap the data key under the primary key."""
        primary = self.ring.primary
        return rewrap(
            sealed,
            Binding(project_id, object_id),
            self.key(sealed.key_id),
            primary.id,
            primary.material,
        )

    def check_available(self, key_ids: set[str]) -> None:
        """Raise ``MasterKeyMissing`` naming the first stored key id that is not loaded."""
        if not key_ids <= set(self.ring.ids):
            self.reload()
        for key_id in sorted(key_ids):
            if key_id not in self.ring:
                raise MasterKeyMissing(
                    f"stored data is encrypted with master key {key_id!r}, which is not in "
                    f"{self.provider.description}; restore it before starting",
                    key_id=key_id,
                )

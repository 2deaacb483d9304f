"""API keys this process authenticated lately, by token hash: most requests authenticate
without a database read.

The revocation window: a key revoked through this process is refused at once (revoking
forgets it here); revoked through another process or replica, it is still accepted for at
most ``ttl`` seconds by a process that authenticated it just before (``GATEKEY_API_KEY_CACHE_
SECONDS``, 5 by default; 0 reads the key on every request). A key's expiry is checked on every
request, cached or not. Unknown, revoked and expired keys are never cached, so a failed
attempt always reads the database (and counts against its address).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gatekey.domain.roles import Role


@dataclass(frozen=True, slots=True)
class KnownKey:
    project_id: str
    key_id: str
    role: Role
    expires_at: datetime | None
    until: float
    """When (``time.monotonic``) this process reads the key again."""


class KeyCache:
    def __init__(
        self,
        ttl: float = 5.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self.ttl = ttl
        self.monotonic = monotonic
        self._max = max_entries
        self._keys: dict[str, KnownKey] = {}
        self._lock = threading.Lock()

    def get(self, token_hash: str, now: datetime) -> KnownKey | None:
        """The key of ``token_hash`` if read within ``ttl`` and not expired at ``now``."""
        known = self._keys.get(token_hash)
        if known is None:
            return None
        if known.until <= self.monotonic() or (
            known.expires_at is not None and known.expires_at <= now
        ):
            with self._lock:
                self._keys.pop(token_hash, None)
            return None
        return known

    def put(
        self, token_hash: str, project_id: str, key_id: str, role: Role, expires_at: datetime | None
    ) -> None:
        if self.ttl <= 0:
            return
        known = KnownKey(project_id, key_id, role, expires_at, self.monotonic() + self.ttl)
        with self._lock:
            if len(self._keys) >= self._max:
                self._keys.pop(next(iter(self._keys)))
            self._keys[token_hash] = known

    def forget(self, key_id: str) -> None:
        """Drop a key (revoked): this process refuses it from now on."""
        with self._lock:
            for token_hash in [h for h, k in self._keys.items() if k.key_id == key_id]:
                del self._keys[token_hash]

"""Decrypted secrets kept in memory, keyed by the ciphertext they came from.

A resolution reads the row every time (status, version and ciphertext are always current, in
every process); only the AES-GCM unwrap and decrypt are skipped when the same ciphertext was
opened before. A changed secret is a new ciphertext, so it can never be served stale, and it
replaces the object's previous entry. Plaintext stays in process memory as long as an entry
lives (bounded; oldest dropped first), which the process holding the master key already allows;
``clear`` empties it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

Key = tuple[Any, ...]
"""Starts with (project id, object id); the rest says which version of the object it is."""
V = TypeVar("V")


class SecretCache(Generic[V]):
    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[Key, V] = {}
        self._latest: dict[tuple[Any, ...], Key] = {}
        self._lock = threading.Lock()
        self.get: Callable[[Key], V | None] = self._entries.get
        """The entry of ``key``, or None: the dict's own ``get`` (the hot path's lookup, with
        no Python frame of its own; ``_entries`` is only ever changed in place)."""

    def latest(self, project_id: str, object_id: str) -> V | None:
        """The object's newest entry, whatever its version (what it was when last read)."""
        key = self._latest.get((project_id, object_id))
        return None if key is None else self._entries.get(key)

    def put(self, key: Key, secret: V) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            previous = self._latest.pop(key[:2], None)  # the object's older secret goes now
            if previous is not None:
                self._entries.pop(previous, None)
            while len(self._entries) >= self.max_entries:
                oldest = next(iter(self._entries))
                self._entries.pop(oldest)
                self._latest.pop(oldest[:2], None)
            self._entries[key] = secret
            self._latest[key[:2]] = key

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._latest.clear()

    def __len__(self) -> int:
        return len(self._entries)

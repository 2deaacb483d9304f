"""A circuit breaker: stop calling a dependency that keeps failing, and probe it now and then.

Closed, calls go through. After ``failures`` failures in a row it opens for ``cool_off``
seconds: callers are told not to call at all, at once. Then it is half-open: one caller (and
only one, however many ask at the same moment) probes; a success closes the circuit, a failure
opens it for another cool-off. So a dependency that hangs costs at most one timeout per
cool-off, instead of one per call.

The lock guards the state only, never the call itself. (``pybreaker`` holds its lock across
the protected call, which would put every request of the process in one queue behind a slow
Redis; that is the very wait this exists to avoid.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import Enum


class State(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Decide whether to call; be told how the call went. The clock is injected."""

    def __init__(
        self,
        failures: int = 3,
        cool_off: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1 or cool_off <= 0:
            raise ValueError("failures must be at least 1 and cool_off positive")
        self.failures = failures
        self.cool_off = cool_off
        self._clock = clock
        self._lock = threading.Lock()
        self._failed = 0
        self._open_until: float | None = None
        self._probe_since: float | None = None

    @property
    def state(self) -> State:
        with self._lock:
            if self._open_until is None:
                return State.CLOSED
            return State.OPEN if self._clock() < self._open_until else State.HALF_OPEN

    def allow(self) -> bool:
        """Return whether to make the call (closed, or the one probe of a half-open circuit)."""
        with self._lock:
            if self._open_until is None:
                return True
            now = self._clock()
            if now < self._open_until:
                return False
            # a probe that never reported back (its thread died) does not block the next
            if self._probe_since is not None and now - self._probe_since < self.cool_off:
                return False
            self._probe_since = now
            return True

    def succeeded(self) -> bool:
        """Record a call that worked; return True if that closed an open circuit."""
        with self._lock:
            reopened = self._open_until is not None
            self._failed = 0
            self._open_until = self._probe_since = None
            return reopened

    def failed(self) -> bool:
        """Record a call that failed; return True if that opened a closed circuit."""
        with self._lock:
            now = self._clock()
            if self._open_until is not None:  # the probe failed: another cool-off
                self._open_until = now + self.cool_off
                self._probe_since = None
                return False
            self._failed += 1
            if self._failed < self.failures:
                return False
            self._open_until = now + self.cool_off
            return True

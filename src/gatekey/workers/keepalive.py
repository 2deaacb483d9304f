"""The keep-alive loop: use credentials a provider deactivates when idle, before it does.

Runs inside ``gatekey serve`` and ``gatekey worker`` every ``GATEKEY_KEEPALIVE_INTERVAL``
seconds (0: never). A sweep pages through the connections the service says are due
(``keepalive_candidates``: a method with ``idle_expiry_days``, unused for a safe part of it)
and has the service keep each alive (``keep_alive``: claim, then the app's test request).
The claim lasts ``WINDOW`` of the interval, so a sweep one interval later (this replica's
next, or another's) may try again what could not reach the provider, and no two sweeps test
a connection within one window however many replicas run them.

Each connection is settled on its own: a failure is logged (its code, never its message) and
the sweep goes on; a failure of the sweep itself costs one iteration of the ``Loop``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from gatekey.errors import DatabaseUnavailable, GatekeyError
from gatekey.workers.loop import Loop, described

log = logging.getLogger(__name__)
BATCH = 200
WINDOW = 0.9
"""The part of the interval a claim lasts."""


class Candidate(Protocol):
    """A connection to keep alive (the service's ``KeepAliveCandidate``)."""

    @property
    def project_id(self) -> str: ...
    @property
    def connection_id(self) -> str: ...


class CandidatePage(Protocol):
    @property
    def due(self) -> Sequence[Candidate]: ...
    @property
    def after(self) -> str | None: ...


class KeepsAlive(Protocol):
    """The system operations a sweep calls: the service implements them (no import upward)."""

    def keepalive_candidates(self, *, limit: int, after: str | None = None) -> CandidatePage: ...

    def keep_alive(self, project_id: str, connection_id: str, *, window: timedelta) -> str: ...


@dataclass
class KeepAliveResult:
    """What one sweep did: credentials used, refused (now inactive), not reachable (tried
    again next sweep), and connections another sweep held or that failed otherwise."""

    kept: int = 0
    refused: int = 0
    unreachable: int = 0
    skipped: int = 0


class BackgroundKeepAlive:
    """Sweeps every ``interval`` seconds on a ``Loop`` until ``stop()``."""

    def __init__(self, service: KeepsAlive, *, interval: float) -> None:
        self._service = service
        self.interval = interval
        self.window = timedelta(seconds=interval * WINDOW)
        self.loop = Loop("gatekey-keepalive", self._step, interval=interval, log=log)

    def _step(self, _: int) -> bool:
        self.sweep()
        return False

    def sweep(self) -> KeepAliveResult:
        """Keep alive every connection due now; return what happened."""
        result = KeepAliveResult()
        after = None
        while not self.loop.stopping:
            page = self._service.keepalive_candidates(limit=BATCH, after=after)
            for candidate in page.due:
                if self.loop.stopping:
                    break
                self._one(candidate, result)
            if page.after is None:
                break
            after = page.after
        if result.kept or result.refused or result.unreachable:
            log.info(
                "keep-alive: %d kept, %d refused, %d not reachable",
                result.kept,
                result.refused,
                result.unreachable,
            )
        return result

    def _one(self, candidate: Candidate, result: KeepAliveResult) -> None:
        try:
            outcome = self._service.keep_alive(
                candidate.project_id, candidate.connection_id, window=self.window
            )
        except DatabaseUnavailable:
            raise  # the rest of the sweep would fail alike: the loop logs it once
        except GatekeyError as exc:
            log.info("keep-alive of %s: %s", candidate.connection_id, exc.code)
            outcome = "skipped"
        except Exception as exc:
            log.error("keep-alive of %s failed: %s", candidate.connection_id, described(exc))
            outcome = "skipped"
        if outcome not in ("kept", "refused", "unreachable"):
            outcome = "skipped"
        setattr(result, outcome, getattr(result, outcome) + 1)

    def start(self) -> None:
        """Start sweeping (an interval of 0 turns the keep-alive off)."""
        if self.interval > 0:
            self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

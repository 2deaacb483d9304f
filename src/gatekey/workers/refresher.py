"""Background refresh: renew tokens before executions need them, and keep idle grants alive.

Runs inside ``gatekey serve`` and as ``gatekey worker``. A sweep pages through active OAuth2
connections, soonest expiry first, whose token falls due (by its app's margin) before the
sweep after next, or whose grant has sat unused for the app's ``idle_refresh_days``, and
refreshes them through the service, so the same single-flight lease applies: several replicas
sweeping at once still make one token request per expiry. Whether a token is due is judged
again on the row as it is when its turn comes (a sibling may have refreshed it since the
page was read), and a token whose refresh window is shorter than the lookahead is left until
it expires (``domain.tokens.refresh_ahead_due``): at most one refresh per token per lifetime
from the sweeps, however many replicas sweep.

Token requests are paced per app: one every ``1 / rate_per_app`` seconds, never a burst (a GCRA
bucket in the service's rate limiter, so replicas sharing Redis share the cap). A thousand
connections of one app expiring together are refreshed at the cap, earliest first, without
tripping the provider's limits or holding up other apps. A sweep
works for at most ``interval`` seconds; what it could not reach is counted as deferred and the
next sweep starts at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from gatekey.errors import GatekeyError
from gatekey.ratelimit import Limiter, Rate
from gatekey.workers.loop import Loop, described

log = logging.getLogger(__name__)
BATCH = 500

After = tuple[datetime | None, str]
"""Where a page of candidates ends: (expiry, connection id), the order sweeps walk in."""


class Candidate(Protocol):
    """A connection whose token may fall due (the service's ``RefreshCandidate``)."""

    @property
    def project_id(self) -> str: ...
    @property
    def connection_id(self) -> str: ...
    @property
    def app(self) -> str: ...
    @property
    def idle(self) -> bool: ...


class CandidatePage(Protocol):
    @property
    def due(self) -> Sequence[Candidate]: ...
    @property
    def after(self) -> After | None: ...


class Refreshes(Protocol):
    """The system operations a sweep calls: the service implements them (no import upward)."""

    def refresh_candidates(
        self, *, ahead: timedelta, limit: int, after: After | None = None
    ) -> CandidatePage: ...

    def refresh_ahead(
        self, project_id: str, connection_id: str, *, ahead: timedelta, idle: bool
    ) -> bool: ...

    def purge_authorization_sessions(self, older_than: timedelta = ...) -> int: ...


@dataclass
class SweepResult:
    refreshed: int = 0
    failed: int = 0
    deferred: int = 0


def pace(rate_per_second: float) -> Rate:
    """A bucket that admits one request every ``1 / rate_per_second`` seconds, no burst."""
    return Rate(1, 1 / rate_per_second)


class BackgroundRefresher:
    """Sweeps every ``interval`` seconds on a ``Loop`` until ``stop()``."""

    def __init__(
        self,
        service: Refreshes,
        *,
        interval: float,
        concurrency: int,
        rate_per_app: float,
        limiter: Limiter,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._service = service
        self._interval = interval
        self._concurrency = max(concurrency, 1)
        self._rate = pace(rate_per_app)
        self._limiter = limiter
        self._monotonic = monotonic
        self.loop = Loop(
            "gatekey-refresher",
            self._step,
            interval=interval,
            log=log,
            monotonic=monotonic,
        )

    def _step(self, _: int) -> bool:
        self.sweep()
        return False

    def sweep(self) -> SweepResult:
        """Refresh what falls due before the sweep after next; return what happened."""
        service = self._service
        ahead = timedelta(seconds=self._interval) * 2
        deadline = self._monotonic() + self._interval
        result = SweepResult()
        tally = threading.Lock()
        slots = threading.Semaphore(self._concurrency)

        def run(candidate: Candidate) -> None:
            try:
                outcome: bool | None = service.refresh_ahead(
                    candidate.project_id, candidate.connection_id, ahead=ahead, idle=candidate.idle
                )
            except GatekeyError as exc:
                log.info("background refresh of %s: %s", candidate.connection_id, exc.code)
                outcome = None
            except Exception as exc:
                log.error(
                    "background refresh of %s failed: %s", candidate.connection_id, described(exc)
                )
                outcome = None
            finally:
                slots.release()
            with tally:
                if outcome is None:
                    result.failed += 1
                elif outcome:
                    result.refreshed += 1

        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="gk-refresh") as pool:
            after = None
            while not self.loop.stopping:
                page = service.refresh_candidates(ahead=ahead, limit=BATCH, after=after)
                left = self._dispatch(page.due, pool, slots, run, deadline)
                if left:
                    result.deferred += left + self._count_rest(ahead, page.after)
                    break
                if page.after is None:
                    break
                after = page.after
        service.purge_authorization_sessions()
        if result.refreshed or result.failed or result.deferred:
            log.info(
                "background refresh: %d refreshed, %d failed, %d deferred by the rate cap",
                result.refreshed,
                result.failed,
                result.deferred,
            )
        return result

    def _count_rest(self, ahead: timedelta, after: After | None) -> int:
        """Count what is due past ``after``: the rest the next sweep starts with."""
        count = 0
        while after is not None:
            page = self._service.refresh_candidates(ahead=ahead, limit=BATCH, after=after)
            count += len(page.due)
            after = page.after
        return count

    def _dispatch(
        self,
        candidates: Sequence[Candidate],
        pool: ThreadPoolExecutor,
        slots: threading.Semaphore,
        run: Callable[[Candidate], None],
        deadline: float,
    ) -> int:
        """Start every candidate, each app at its pace; return how many are left when the
        deadline or ``stop()`` comes first."""
        queues: dict[str, deque[Candidate]] = {}
        for candidate in candidates:
            queues.setdefault(candidate.app, deque()).append(candidate)
        while queues:
            soonest: float | None = None
            for app in list(queues):
                slots.acquire()  # a free worker first, so the bucket is hit only to start
                wait = self._limiter.hit(f"refresh:{app}", self._rate)
                if wait is not None:
                    slots.release()
                    soonest = wait if soonest is None else min(soonest, wait)
                    continue
                queue = queues[app]
                pool.submit(run, queue.popleft())
                if not queue:
                    del queues[app]
            if soonest is None or not queues:
                continue
            if self._monotonic() + soonest > deadline or self.loop.wait(soonest):
                return sum(len(queue) for queue in queues.values())
        return 0

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

"""Background refresh: renew tokens before executions need them, and keep idle grants alive.

Runs inside ``gatekey serve`` and as ``gatekey worker``. Each sweep asks the store for active
OAuth2 connections whose token expires before the next sweep (plus the refresh margin) or
whose grant has sat unused for the app's ``idle_refresh_days``, and refreshes them through the
service, so the same single-flight lease applies: several replicas sweeping at once still
make one token request per expiry. Concurrency is bounded and each app has a rate cap per
process, so a thousand connections of one app expiring together do not trip its rate limit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from gatekey.errors import GatekeyError

if TYPE_CHECKING:
    from gatekey.service import ConnectionService

log = logging.getLogger(__name__)
BATCH = 500


@dataclass
class SweepResult:
    refreshed: int = 0
    failed: int = 0
    deferred: int = 0


class RateCap:
    """At most ``per_minute`` starts per key in any sliding minute."""

    def __init__(self, per_minute: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._limit = per_minute
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._monotonic = monotonic

    def allow(self, key: str) -> bool:
        now = self._monotonic()
        window = self._seen[key]
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= self._limit:
            return False
        window.append(now)
        return True


class BackgroundRefresher:
    """Sweeps every ``interval`` seconds on a thread until ``stop()``."""

    def __init__(
        self,
        service: ConnectionService,
        *,
        interval: float,
        concurrency: int,
        rate_per_app: int,
    ) -> None:
        self._service = service
        self._interval = interval
        self._concurrency = max(concurrency, 1)
        self._cap = RateCap(rate_per_app)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> SweepResult:
        """Refresh what is due before the next sweep; return what happened."""
        service = self._service
        ahead = timedelta(seconds=self._interval) * 2
        result = SweepResult()
        jobs: list[tuple[str, str, bool]] = []
        for candidate in service.refresh_candidates(ahead=ahead, limit=BATCH):
            if not self._cap.allow(candidate.app):
                result.deferred += 1
                continue
            jobs.append((candidate.project_id, candidate.connection_id, candidate.idle))

        def run(job: tuple[str, str, bool]) -> bool | None:
            project_id, connection_id, idle = job
            try:
                return service.refresh_ahead(project_id, connection_id, ahead=ahead, idle=idle)
            except GatekeyError as exc:
                log.info("background refresh of %s: %s", connection_id, exc.code)
                return None

        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="gk-refresh") as pool:
            for outcome in pool.map(run, jobs):
                if outcome is None:
                    result.failed += 1
                elif outcome:
                    result.refreshed += 1
        service.purge_authorization_sessions()
        if result.refreshed or result.failed or result.deferred:
            log.info(
                "background refresh: %d refreshed, %d failed, %d deferred by the rate cap",
                result.refreshed,
                result.failed,
                result.deferred,
            )
        return result

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:
                log.exception("background refresh sweep failed")
            self._stop.wait(self._interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="gk-refresher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

"""Execute queued runs: a bounded pool of threads, each claiming one run at a time.

Inside ``gatekey serve`` and as ``gatekey worker``; any number of processes on any number of
hosts can run it against one database, since a run is claimed exactly once. A thread survives
whatever the work it calls raises, ``BaseException`` included (``SystemExit`` would otherwise
end it silently), so the pool never shrinks; only ``stop()`` ends it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gatekey.service import ConnectionService

log = logging.getLogger(__name__)


class RunWorker:
    def __init__(
        self,
        service: ConnectionService,
        *,
        threads: int,
        idle_wait: float,
        abandon_after: timedelta = timedelta(minutes=30),
    ) -> None:
        self._service = service
        self._abandon_after = abandon_after
        self._threads = max(threads, 1)
        self._idle = idle_wait
        self._stop = threading.Event()
        self._pool: list[threading.Thread] = []
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def drain(self) -> int:
        """Execute queued runs until none is left; return how many ran (for tests and --once).

        A run that stops on anything is failed and the next one taken; the operator's Ctrl-C
        (``KeyboardInterrupt`` in this thread), or three failures in a row (the database is
        gone), end it.
        """
        done = failures = 0
        while True:
            try:
                ran = self._service.work_once(self.name)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                failures += 1
                if failures >= 3:
                    raise
                log.error("run worker %s failed (%s)", self.name, type(exc).__name__, exc_info=exc)
                continue
            failures = 0
            if ran is None:
                return done
            done += 1

    def _loop(self, index: int) -> None:
        worker = f"{self.name}:{index}"
        while not self._stop.is_set():
            try:
                ran = self._service.work_once(worker)
            except BaseException as exc:
                log.error("run worker %s failed (%s)", worker, type(exc).__name__, exc_info=exc)
                ran = None
            if ran is None:
                if index == 0:
                    self._reap()
                self._stop.wait(self._idle)

    def _reap(self) -> None:
        try:
            lost = self._service.fail_abandoned_runs(self._abandon_after)
        except BaseException as exc:
            log.error("could not check for abandoned runs (%s)", type(exc).__name__, exc_info=exc)
            return
        if lost:
            log.warning("%d run(s) abandoned by a stopped worker were marked failed", lost)

    def start(self) -> None:
        for index in range(self._threads):
            thread = threading.Thread(target=self._loop, args=(index,), daemon=True)
            thread.start()
            self._pool.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._pool:
            thread.join(timeout=30)

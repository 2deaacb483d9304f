"""Execute queued runs: a bounded pool of threads, each claiming one run at a time.

Inside ``gatekey serve`` and as ``gatekey worker``; any number of processes on any number of
hosts can run it against one database, since a run is claimed exactly once. A thread survives
whatever the work it calls raises, ``BaseException`` included (the ``Loop`` isolates each
claim), so the pool never shrinks; only ``stop()`` ends it.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from typing import Protocol

from gatekey.workers.loop import Loop, log_failure

log = logging.getLogger(__name__)


class Runs(Protocol):
    """What the run workers call: ``workflows.engine.Engine`` implements it."""

    def work_once(self, worker: str) -> str | None: ...

    def fail_abandoned_runs(self, older_than: timedelta) -> int: ...


class RunWorker:
    def __init__(
        self,
        engine: Runs,
        *,
        threads: int,
        idle_wait: float,
        abandon_after: timedelta = timedelta(minutes=30),
    ) -> None:
        self._engine = engine
        self._abandon_after = abandon_after
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.loop = Loop("gatekey-runs", self._step, interval=idle_wait, threads=threads, log=log)

    @property
    def alive(self) -> bool:
        """Whether every thread of the pool is still taking runs."""
        return self.loop.alive

    def drain(self) -> int:
        """Execute queued runs until none is left; return how many ran (for tests and --once).

        A run that stops on anything is failed and the next one taken; the operator's Ctrl-C
        (``KeyboardInterrupt`` in this thread), or three failures in a row (the database is
        gone), end it.
        """
        done = failures = 0
        while True:
            try:
                ran = self._engine.work_once(self.name)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                failures += 1
                if failures >= 3:
                    raise
                log_failure(log, f"run worker {self.name}", exc)
                continue
            failures = 0
            if ran is None:
                return done
            done += 1

    def _step(self, index: int) -> bool:
        """Take one run; when none waits, the first thread also fails abandoned runs."""
        if self._engine.work_once(f"{self.name}:{index}") is not None:
            return True
        if index == 0:
            self._reap()
        return False

    def _reap(self) -> None:
        try:
            lost = self._engine.fail_abandoned_runs(self._abandon_after)
        except BaseException as exc:
            log_failure(log, "the check for abandoned runs", exc)
            return
        if lost:
            log.warning("%d run(s) abandoned by a stopped worker were marked failed", lost)

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

"""The run worker pool: no exception from the work it calls, ``BaseException`` included,
ends a thread."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from gatekey.workers.runner import RunWorker


class _Work:
    """Stands in for the service: the first calls raise what a step once could."""

    def __init__(self, failures: list[BaseException], runs: int) -> None:
        self._failures = list(failures)
        self._runs = runs
        self._lock = threading.Lock()
        self.done: list[str] = []

    def work_once(self, worker: str) -> str | None:
        with self._lock:
            if self._failures:
                raise self._failures.pop(0)
            if self._runs == 0:
                return None
            self._runs -= 1
            self.done.append(worker)
            return f"run-{self._runs}"

    def fail_abandoned_runs(self, older_than: timedelta) -> int:
        raise SystemExit("the reaper's work exits too")


def test_every_thread_survives_base_exceptions_and_keeps_working() -> None:
    failures: list[BaseException] = [SystemExit(0), KeyboardInterrupt(), GeneratorExit()] * 4
    work = _Work(failures, runs=20)
    worker = RunWorker(work, threads=3, idle_wait=0.01)  # type: ignore[arg-type]
    worker.start()
    try:
        deadline = time.monotonic() + 30  # a hang guard only
        while len(work.done) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        alive = [t.is_alive() for t in worker.loop.threads]
    finally:
        worker.stop()
    assert len(work.done) == 20, "the runs queued after the failures were all executed"
    assert alive == [True, True, True]


def test_drain_takes_the_next_run_after_one_that_exits() -> None:
    work = _Work([SystemExit(1)], runs=2)
    assert RunWorker(work, threads=1, idle_wait=0.01).drain() == 2  # type: ignore[arg-type]


def test_drain_stops_on_ctrl_c_and_on_a_lasting_failure() -> None:
    with pytest.raises(KeyboardInterrupt):
        RunWorker(_Work([KeyboardInterrupt()], runs=1), threads=1, idle_wait=0).drain()  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        RunWorker(_Work([ConnectionError()] * 3, runs=1), threads=1, idle_wait=0).drain()  # type: ignore[arg-type]

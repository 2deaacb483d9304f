"""``Workers``: the three loops of ``serve`` and ``gatekey worker``, started and stopped as one,
and one pass of each for ``gatekey worker --once``."""

from __future__ import annotations

from datetime import datetime, timedelta

from gatekey.ratelimit import Limiter, MemoryLimiter
from gatekey.workers.dispatcher import WebhookDispatcher
from gatekey.workers.keepalive import BackgroundKeepAlive
from gatekey.workers.pool import Workers
from gatekey.workers.refresher import After, BackgroundRefresher
from gatekey.workers.runner import RunWorker


class _Page:
    due: tuple[()] = ()
    after: tuple[datetime | None, str] | None = None


class _KeepAlivePage:
    due: tuple[()] = ()
    after: str | None = None


class _System:
    """Stands in for the service's system operations: one run and two webhooks wait."""

    def __init__(self) -> None:
        self.limiter: Limiter = MemoryLimiter()
        self.runs = ["run-1"]
        self.webhooks = 2

    def refresh_candidates(
        self, *, ahead: timedelta, limit: int, after: After | None = None
    ) -> _Page:
        return _Page()

    def refresh_ahead(
        self, project_id: str, connection_id: str, *, ahead: timedelta, idle: bool
    ) -> bool:
        raise AssertionError("nothing is due")

    def purge_authorization_sessions(self, older_than: timedelta = timedelta(days=1)) -> int:
        return 0

    def work_once(self, worker: str) -> str | None:
        return self.runs.pop() if self.runs else None

    def fail_abandoned_runs(self, older_than: timedelta) -> int:
        return 0

    def deliver_webhooks(self, limit: int = 20) -> int:
        sent, self.webhooks = self.webhooks, 0
        return sent

    def keepalive_candidates(self, *, limit: int, after: str | None = None) -> _KeepAlivePage:
        return _KeepAlivePage()

    def keep_alive(self, project_id: str, connection_id: str, *, window: timedelta) -> str:
        raise AssertionError("nothing is idle")


def _workers(system: _System) -> Workers:
    return Workers(
        RunWorker(system, threads=2, idle_wait=60),
        WebhookDispatcher(system, interval=60),
        BackgroundRefresher(
            system, interval=60, concurrency=1, rate_per_app=1, limiter=MemoryLimiter()
        ),
        BackgroundKeepAlive(system, interval=60),
    )


def test_start_and_stop_every_loop_as_one() -> None:
    workers = _workers(_System())
    workers.start()
    assert workers.keepalive is not None
    loops = [
        workers.runs.loop,
        workers.webhooks.loop,
        workers.refresher.loop,
        workers.keepalive.loop,
    ]
    assert all(loop.alive for loop in loops)
    assert len(workers.runs.loop.threads) == 2
    workers.stop()
    assert not any(loop.alive for loop in loops)
    assert not any(t.is_alive() for loop in loops for t in loop.threads)


def test_once_is_one_pass_of_each_in_the_callers_thread() -> None:
    system = _System()
    done = _workers(system).once()
    assert (done.sweep.refreshed, done.runs, done.webhooks) == (0, 1, 2)
    assert done.keepalive is not None and done.keepalive.kept == 0
    assert system.runs == [] and system.webhooks == 0


def test_without_a_keepalive_the_other_loops_run_as_before() -> None:
    system = _System()
    full = _workers(system)
    workers = Workers(full.runs, full.webhooks, full.refresher)
    assert workers.once().keepalive is None
    workers.start()
    assert workers.refresher.loop.alive
    workers.stop()
    assert not workers.refresher.loop.alive

from __future__ import annotations

import threading
import time

import pytest

from gatekey.oauth.flights import Flights


def test_concurrent_callers_share_one_call() -> None:
    flights: Flights[int] = Flights()
    calls = []
    gate = threading.Event()

    def work() -> int:
        calls.append(1)
        gate.wait(5)
        return 42

    results: list[int] = []
    ready = threading.Barrier(21)

    def caller() -> None:
        ready.wait()
        results.append(flights.run("k", work))

    threads = [threading.Thread(target=caller) for _ in range(20)]
    for thread in threads:
        thread.start()
    ready.wait()
    time.sleep(0.2)  # let every caller reach run(); the first one holds the call open
    gate.set()
    for thread in threads:
        thread.join()
    assert results == [42] * 20
    assert len(calls) == 1


def test_errors_reach_every_waiter_and_the_next_call_runs_again() -> None:
    flights: Flights[int] = Flights()

    def boom() -> int:
        raise ValueError("provider down")

    with pytest.raises(ValueError, match="provider down"):
        flights.run("k", boom)
    assert flights.run("k", lambda: 7) == 7

"""The circuit breaker with a hand-driven clock: open after N failures, one probe per cool-off."""

from __future__ import annotations

import pytest

from gatekey.breaker import CircuitBreaker, State


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_failures_in_a_row_and_probes_once_per_cool_off() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=3, cool_off=10, clock=clock)
    assert [breaker.allow() and breaker.failed() for _ in range(2)] == [False, False]
    breaker.succeeded()  # a success in between starts the count again
    assert [breaker.allow() and breaker.failed() for _ in range(3)] == [False, False, True]
    assert breaker.state is State.OPEN
    assert [breaker.allow() for _ in range(100)] == [False] * 100
    clock.now += 10
    assert breaker.state is State.HALF_OPEN
    assert [breaker.allow() for _ in range(100)] == [True] + [False] * 99  # one probe
    assert breaker.failed() is False  # the probe failed: open again, not a new opening
    assert not breaker.allow()
    clock.now += 10
    assert breaker.allow()
    assert breaker.succeeded() is True
    assert breaker.state is State.CLOSED
    assert all(breaker.allow() for _ in range(10))


def test_a_probe_that_never_reports_does_not_block_for_ever() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cool_off=5, clock=clock)
    breaker.failed()
    clock.now += 5
    assert breaker.allow()
    clock.now += 4
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="failures"):
        CircuitBreaker(failures=0)

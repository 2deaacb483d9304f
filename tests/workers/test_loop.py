"""The loop every background worker runs on: an iteration's failure, ``BaseException``
included, never ends it; it is logged without its message; busy steps go again at once."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from gatekey.errors import DatabaseUnavailable, NotFound
from gatekey.workers.loop import Loop

SECRET = "CANARYloop5521"


class _Steps:
    """Raises each failure in turn, then reports work ``busy`` times, then idles."""

    def __init__(self, failures: list[BaseException], busy: int = 0) -> None:
        self.failures = list(failures)
        self.busy = busy
        self.calls = 0
        self.called = threading.Event()

    def __call__(self, index: int) -> bool:
        self.calls += 1
        self.called.set()
        if self.failures:
            raise self.failures.pop(0)
        if self.busy:
            self.busy -= 1
            return True
        return False


def _until(condition: object, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds  # a hang guard only
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.005)


def test_no_failure_ends_the_loop_and_none_logs_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    failures: list[BaseException] = [
        SystemExit(1),
        KeyboardInterrupt(),
        RuntimeError(f"the provider said api_key={SECRET}"),
        ValueError(f"https://hooks.example/{SECRET}"),
    ]
    steps = _Steps(failures)
    loop = Loop("gatekey-test", steps, interval=0.001)
    loop.start()
    try:
        _until(lambda: steps.calls > len(failures))
        assert loop.alive, "the thread outlived every failure"
    finally:
        loop.stop()
    assert not loop.alive and not any(t.is_alive() for t in loop.threads)
    errors = [r for r in caplog.records if r.name == "gatekey.workers.loop"]
    assert len(errors) == 4 and {r.levelname for r in errors} == {"ERROR"}
    text = "\n".join(r.getMessage() for r in errors)
    assert SECRET not in text and "hooks.example" not in text
    for kind in ("SystemExit", "KeyboardInterrupt", "RuntimeError", "ValueError"):
        assert f"gatekey-test: an iteration failed: {kind} (message withheld)" in text
    assert "test_loop.py" in text and "in __call__" in text, "the frames say where"


def test_an_outage_or_a_known_error_is_a_warning_with_its_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    steps = _Steps([DatabaseUnavailable("down"), NotFound(f"connection {SECRET} not found")])
    loop = Loop("gatekey-test", steps, interval=0.001)
    with caplog.at_level(logging.WARNING, logger="gatekey.workers.loop"):
        loop.start()
        _until(lambda: steps.calls > 2)
        loop.stop()
    said = [r.getMessage() for r in caplog.records if r.name == "gatekey.workers.loop"]
    assert said == [
        "gatekey-test: an iteration skipped: the database is unavailable",
        "gatekey-test: an iteration failed: not_found",
    ]


def test_a_busy_step_goes_again_at_once_an_idle_one_waits_and_stop_wakes_it() -> None:
    steps = _Steps([], busy=5)
    loop = Loop("gatekey-test", steps, interval=60)
    loop.start()
    _until(lambda: steps.calls == 6)
    time.sleep(0.05)
    assert steps.calls == 6, "five busy calls, then one idle call and a 60 s wait"
    began = time.monotonic()
    loop.stop()
    assert time.monotonic() - began < 5, "stop() ends the wait"
    assert loop.stopping and not loop.alive


def test_several_threads_each_get_their_index() -> None:
    seen: set[int] = set()
    lock = threading.Lock()

    def step(index: int) -> bool:
        with lock:
            seen.add(index)
        return False

    loop = Loop("gatekey-test", step, interval=60, threads=3)
    loop.start()
    _until(lambda: len(seen) == 3)
    assert [t.name for t in loop.threads] == ["gatekey-test-0", "gatekey-test-1", "gatekey-test-2"]
    loop.stop()
    assert seen == {0, 1, 2}

"""The keep-alive loop: every page of due connections kept alive, each on its own; the claim
lasts most of the interval; an interval of 0 never starts it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from gatekey.errors import DatabaseUnavailable, ProviderUnavailable
from gatekey.workers.keepalive import BATCH, BackgroundKeepAlive


@dataclass(frozen=True)
class _Due:
    project_id: str
    connection_id: str


@dataclass(frozen=True)
class _Page:
    due: list[_Due]
    after: str | None


@dataclass
class _System:
    """Stands in for the service: ``outcomes`` by connection id, in pages of ``BATCH``."""

    outcomes: dict[str, str | Exception]
    windows: list[timedelta] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    def keepalive_candidates(self, *, limit: int, after: str | None = None) -> _Page:
        ids = sorted(self.outcomes)
        start = ids.index(after) + 1 if after else 0
        chunk = ids[start : start + limit]
        more = start + limit < len(ids)
        return _Page([_Due("proj", i) for i in chunk], chunk[-1] if more else None)

    def keep_alive(self, project_id: str, connection_id: str, *, window: timedelta) -> str:
        self.asked.append(connection_id)
        self.windows.append(window)
        outcome = self.outcomes[connection_id]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_a_sweep_keeps_every_page_alive_and_counts_what_happened() -> None:
    outcomes: dict[str, str | Exception] = {f"conn_{n:04}": "kept" for n in range(BATCH + 5)}
    outcomes.update({"conn_0001": "refused", "conn_0002": "unreachable", "conn_0003": "skipped"})
    system = _System(outcomes)
    done = BackgroundKeepAlive(system, interval=3600).sweep()
    assert (done.kept, done.refused, done.unreachable, done.skipped) == (BATCH + 2, 1, 1, 1)
    assert system.asked == sorted(outcomes)
    assert set(system.windows) == {timedelta(seconds=3240)}


def test_one_connections_failure_costs_that_connection_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    system = _System(
        {
            "conn_a": RuntimeError("CANARY provider words"),
            "conn_b": ProviderUnavailable("CANARY"),
            "conn_c": "kept",
        }
    )
    with caplog.at_level(logging.INFO, logger="gatekey.workers.keepalive"):
        done = BackgroundKeepAlive(system, interval=60).sweep()
    assert (done.kept, done.skipped) == (1, 2)
    assert "CANARY" not in caplog.text and "RuntimeError" in caplog.text


def test_a_database_outage_ends_the_sweep() -> None:
    system = _System({"conn_a": DatabaseUnavailable("down"), "conn_b": "kept"})
    with pytest.raises(DatabaseUnavailable):
        BackgroundKeepAlive(system, interval=60).sweep()
    assert system.asked == ["conn_a"]


def test_an_interval_of_zero_never_starts_the_loop() -> None:
    off = BackgroundKeepAlive(_System({}), interval=0)
    off.start()
    assert off.loop.threads == ()
    on = BackgroundKeepAlive(_System({}), interval=60)
    on.start()
    try:
        assert on.loop.alive
    finally:
        on.stop()
    assert not on.loop.alive

"""Several worker processes share one queue: every run is executed exactly once."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from gatekey.oauth.sandbox import sandbox_app_definition
from gatekey.runtime import open_runtime, run_worker
from gatekey.settings import Settings
from tests.fakes.keys import MASTER_KEY
from tests.fakes.sandbox import Sandbox, connect, sandbox_project

pytestmark = pytest.mark.slow  # several processes

PROCESSES = 4
RUNS = 24


def _settings(home: str, url: str) -> Settings:
    return Settings(home=Path(home), database_url=url, master_keys=MASTER_KEY)


def _drain(args: tuple[str, str, str, float]) -> int:
    home, url, sandbox_url, start = args
    runtime = open_runtime(
        _settings(home, url), extra_apps=[sandbox_app_definition(sandbox_url)], migrate=False
    )
    try:
        time.sleep(max(start - time.time(), 0))
        return run_worker(runtime).drain()
    finally:
        runtime.close()


def test_each_queued_run_is_executed_once(
    tmp_path: Path, database_url: str, sandbox: Sandbox
) -> None:
    home = str(tmp_path / "home")
    sandbox.control("reset")
    runtime = open_runtime(_settings(home, database_url), extra_apps=[sandbox.app])
    service = runtime.service
    actor = sandbox_project(service)
    connect(service, actor, sandbox)
    flow = service.flows.create(
        actor,
        name="Who",
        definition={
            "steps": [{"id": "me", "app": "sandbox", "type": "http", "http": {"path": "/api/me"}}]
        },
    )
    queued = [service.runs.trigger(actor, flow.id, {"n": n}).id for n in range(RUNS)]
    before = sandbox.state.counts.get("api", 0)
    args = (home, database_url, sandbox.url, time.time() + 3.0)
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        executed = pool.map(_drain, [args] * PROCESSES)
    assert sum(executed) == RUNS
    runs = service.runs.list(actor, limit=200)
    assert {r.id for r in runs} == set(queued)
    assert all(r.status == "succeeded" for r in runs)
    assert sandbox.state.counts.get("api", 0) - before == RUNS, "no run executed twice"
    runtime.close()

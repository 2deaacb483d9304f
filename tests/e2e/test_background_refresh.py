"""Replicas sweeping at once: each due token is refreshed by one of them, once.

Three processes (as three ``gatekey serve`` replicas would) run a background sweep at the same
instant over the same due connections, with the provider answering slowly so the sweeps
overlap. The provider sees one token request per connection; every connection ends with a
token its executions can use without refreshing again. And three replicas sweeping twice a
second over tokens that live 4 s refresh each token at most once per lifetime, counted at the
provider. SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from gatekey.oauth.sandbox import sandbox_app_definition
from gatekey.runtime import background_refresher, open_runtime
from gatekey.service import utcnow
from gatekey.settings import Settings
from gatekey.store.tables import connections
from tests.fakes.keys import MASTER_KEY
from tests.fakes.sandbox import Sandbox, connect, sandbox_project

pytestmark = pytest.mark.slow  # several processes

REPLICAS = 3
DUE = 12


TTL = 4
RUN = 10.0


def _settings(home: str, url: str, interval: float = 30.0) -> Settings:
    return Settings(
        home=Path(home),
        database_url=url,
        master_keys=MASTER_KEY,
        audit_flush_interval=0.05,
        refresh_rate_per_app=200,
        refresh_concurrency=4,
        refresh_interval=interval,
    )


def _sweep(args: tuple[str, str, str, float]) -> tuple[int, int]:
    home, url, sandbox_url, start = args
    runtime = open_runtime(
        _settings(home, url), extra_apps=[sandbox_app_definition(sandbox_url)], migrate=False
    )
    try:
        refresher = background_refresher(runtime)
        time.sleep(max(start - time.time(), 0))
        result = refresher.sweep()
        return result.refreshed, result.failed
    finally:
        runtime.close()


def test_replicas_sweeping_at_once_refresh_each_due_token_once(
    tmp_path: Path, database_url: str, sandbox: Sandbox
) -> None:
    home = str(tmp_path / "home")
    sandbox.control("reset")
    runtime = open_runtime(_settings(home, database_url), extra_apps=[sandbox.app])
    try:
        actor = sandbox_project(runtime.service)
        ids = [connect(runtime.service, actor, sandbox, name=f"Due {n}") for n in range(DUE)]
        old = {
            cid: runtime.service.credentials.resolve(actor, cid).fields["access_token"]
            for cid in ids
        }
        with runtime.db.write() as conn:  # hour-long tokens, 30 s from their end
            soon = utcnow() + timedelta(seconds=30)
            conn.execute(
                update(connections)
                .where(connections.c.id.in_(ids))
                .values(expires_at=soon, last_refreshed_at=soon - timedelta(hours=1))
            )
        sandbox.control("slow", ms=150)
        before = sandbox.token_requests("refresh_token")
        start = time.time() + 4.0
        with multiprocessing.get_context("spawn").Pool(REPLICAS) as pool:
            results = pool.map(_sweep, [(home, database_url, sandbox.url, start)] * REPLICAS)
        sandbox.control("slow", ms=0)
        assert sandbox.token_requests("refresh_token") - before == DUE
        assert sum(failed for _, failed in results) == 0
        assert sum(refreshed for refreshed, _ in results) >= DUE
        after = sandbox.token_requests("refresh_token")
        for cid in ids:
            fresh = runtime.service.credentials.resolve(actor, cid)
            assert fresh.fields["access_token"] != old[cid]
            assert fresh.expires_at is not None and fresh.expires_at > utcnow() + timedelta(
                minutes=30
            )
        assert sandbox.token_requests("refresh_token") == after, "nothing left to refresh inline"
    finally:
        sandbox.control("slow", ms=0)
        runtime.close()


def _sweep_for(args: tuple[str, str, str, float]) -> None:
    """Run the background refresher, a sweep every half second, for ``RUN`` seconds."""
    home, url, sandbox_url, start = args
    runtime = open_runtime(
        _settings(home, url, interval=0.5),
        extra_apps=[sandbox_app_definition(sandbox_url)],
        migrate=False,
    )
    try:
        refresher = background_refresher(runtime)
        time.sleep(max(start - time.time(), 0))
        refresher.start()
        time.sleep(RUN)
        refresher.stop()
    finally:
        runtime.close()


def test_replicas_sweeping_short_lived_tokens_refresh_each_once_per_lifetime(
    tmp_path: Path, database_url: str, sandbox: Sandbox
) -> None:
    home = str(tmp_path / "home")
    sandbox.control("reset")
    sandbox.control("ttl", seconds=TTL)
    runtime = open_runtime(_settings(home, database_url), extra_apps=[sandbox.app])
    try:
        actor = sandbox_project(runtime.service)
        for n in range(DUE):
            connect(runtime.service, actor, sandbox, name=f"Short {n}")
        before = sandbox.token_requests("refresh_token")
        start = time.time() + 4.0
        with multiprocessing.get_context("spawn").Pool(REPLICAS) as pool:
            pool.map(_sweep_for, [(home, database_url, sandbox.url, start)] * REPLICAS)
        requests = sandbox.token_requests("refresh_token") - before
        # every token is refreshed (the sweeps work), and at most once per lifetime: in 10 s
        # of sweeps by three replicas, no more than once in each 4 s window it can fall in
        print(f"{requests} token requests for {DUE} tokens")
        windows = math.ceil(RUN / TTL) + 1
        assert DUE <= requests <= DUE * windows, f"{requests} token requests for {DUE} tokens"
    finally:
        sandbox.control("ttl", seconds=3600)
        runtime.close()

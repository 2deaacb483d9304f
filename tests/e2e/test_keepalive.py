"""Replicas keeping idle credentials alive at once: each idle connection is used once.

Three processes (as three ``gatekey serve`` replicas would) sweep the same database at the same
instant over connections unused for 20 days of a 30-day limit, with the provider answering
slowly so the sweeps overlap. The provider sees one request per connection, counted per
credential; every connection then counts as used. SQLite and PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from gatekey.runtime import background_keepalive, open_runtime
from gatekey.service import Actor, utcnow
from gatekey.settings import Settings
from gatekey.store.tables import connections
from tests.fakes.idle_provider import ACCEPTED, idle_provider
from tests.fakes.keys import MASTER_KEY

pytestmark = pytest.mark.slow  # several processes

REPLICAS = 3
IDLE = 12


def _settings(home: str, url: str) -> Settings:
    return Settings(
        home=Path(home), database_url=url, master_keys=MASTER_KEY, audit_flush_interval=0.05
    )


def _sweep(args: tuple[str, str, float]) -> tuple[int, int, int, int]:
    home, url, start = args
    runtime = open_runtime(_settings(home, url), migrate=False)
    try:
        loop = background_keepalive(runtime)
        assert loop is not None
        time.sleep(max(start - time.time(), 0))
        done = loop.sweep()
        return done.kept, done.refused, done.unreachable, done.skipped
    finally:
        runtime.close()


def test_replicas_sweeping_at_once_use_each_idle_credential_once(
    tmp_path: Path, database_url: str
) -> None:
    home = str(tmp_path / "home")
    runtime = open_runtime(_settings(home, database_url))
    with idle_provider(delay=0.1) as provider:
        try:
            project, _ = runtime.service.system.bootstrap()
            actor = Actor.operator(project.id)
            runtime.service.apps.add(actor, provider.app())
            ids = [
                runtime.service.connections.create(
                    actor,
                    app="helpdesk",
                    name=f"Desk {n}",
                    auth_kind="api_key",
                    fields={"api_key": f"{ACCEPTED}{n:04}"},
                    validate=False,
                ).id
                for n in range(IDLE)
            ]
            with runtime.db.write() as conn:
                conn.execute(
                    update(connections)
                    .where(connections.c.id.in_(ids))
                    .values(created_at=utcnow() - timedelta(days=20))
                )
            start = time.time() + 4.0
            with multiprocessing.get_context("spawn").Pool(REPLICAS) as pool:
                results = pool.map(_sweep, [(home, database_url, start)] * REPLICAS)
            assert provider.uses == {f"{ACCEPTED}{n:04}": 1 for n in range(IDLE)}
            assert sum(kept for kept, _, _, _ in results) == IDLE
            assert all(refused == unreachable == 0 for _, refused, unreachable, _ in results)
            for cid in ids:
                used = runtime.service.connections.get(actor, cid)
                assert used.status == "active" and used.last_used_at is not None
            again = background_keepalive(runtime)
            assert again is not None and again.sweep().kept == 0  # nothing idle any more
            assert sum(provider.uses.values()) == IDLE
        finally:
            runtime.close()

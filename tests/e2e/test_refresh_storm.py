"""A refresh storm: many executions on several processes ask for one expired token at once.

Exactly one token request reaches the provider; every caller gets the same new token. Runs on
SQLite and on PostgreSQL (the ``database_url`` fixture), with the sandbox answering slowly so
that every caller really arrives while the refresh is in flight.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from gatekey.oauth.sandbox import sandbox_app_definition
from gatekey.runtime import open_runtime
from gatekey.service import Actor, utcnow
from gatekey.settings import Settings
from gatekey.store.tables import connections
from tests.fakes.keys import MASTER_KEY
from tests.fakes.sandbox import Sandbox, connect, sandbox_project

pytestmark = pytest.mark.slow  # several processes

PROCESSES = 4
THREADS = 13


def _settings(home: str, url: str) -> Settings:
    return Settings(
        home=Path(home), database_url=url, master_keys=MASTER_KEY, audit_flush_interval=0.05
    )


def _storm(args: tuple[str, str, str, str, str, float]) -> list[str]:
    """Resolve the connection from THREADS threads at ``start``; return what each got."""
    home, url, sandbox_url, project_id, connection_id, start = args
    runtime = open_runtime(
        _settings(home, url), extra_apps=[sandbox_app_definition(sandbox_url)], migrate=False
    )
    actor = Actor.operator(project_id)
    got: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        time.sleep(max(start - time.time(), 0))
        token = runtime.service.credentials.resolve(actor, connection_id).fields["access_token"]
        with lock:
            got.append(token)

    try:
        threads = [threading.Thread(target=one) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return got
    finally:
        runtime.close()


def test_one_token_request_for_a_storm_on_an_expired_token(
    tmp_path: Path, database_url: str, sandbox: Sandbox
) -> None:
    home = str(tmp_path / "home")
    sandbox.control("reset")
    runtime = open_runtime(_settings(home, database_url), extra_apps=[sandbox.app])
    try:
        actor = sandbox_project(runtime.service)
        connection_id = connect(runtime.service, actor, sandbox)
        old = runtime.service.credentials.resolve(actor, connection_id).fields["access_token"]
        with runtime.db.write() as conn:
            conn.execute(
                update(connections)
                .where(connections.c.id == connection_id)
                .values(expires_at=utcnow() - timedelta(minutes=1))
            )
        sandbox.control("slow", ms=200)
        before = sandbox.token_requests("refresh_token")
        start = time.time() + 4.0
        args = (home, database_url, sandbox.url, actor.project_id, connection_id, start)
        with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
            results = pool.map(_storm, [args] * PROCESSES)
    finally:
        sandbox.control("slow", ms=0)
        runtime.close()

    tokens = [token for batch in results for token in batch]
    assert len(tokens) == PROCESSES * THREADS
    assert sandbox.token_requests("refresh_token") - before == 1
    assert len(set(tokens)) == 1
    assert tokens[0] != old

"""A refresh storm on a minted token: many executions on several processes ask for one
expired token of a recipe kind at once (issue 18). Exactly one mint reaches the peer and every
caller gets the same new token, as for OAuth2 (``test_refresh_storm``). Runs on SQLite and on
PostgreSQL, each peer answering slowly so that every caller arrives while the mint is in
flight."""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from gatekey.catalog.schema import App
from gatekey.runtime import open_runtime
from gatekey.service import Actor, utcnow
from gatekey.settings import Settings
from gatekey.store.tables import connections
from tests.fakes.keys import MASTER_KEY
from tests.fakes.minted_peers import PEERS, held

pytestmark = pytest.mark.slow  # several processes

PROCESSES = 4
THREADS = 10


def _settings(home: str, url: str) -> Settings:
    return Settings(
        home=Path(home),
        database_url=url,
        master_keys=MASTER_KEY,
        audit_flush_interval=0.05,
        egress_allow="127.0.0.1",
    )


def _storm(args: tuple[str, str, str, str, str, float]) -> list[str]:
    """Resolve the connection from THREADS threads at ``start``; return what each got."""
    home, url, app_json, project_id, connection_id, start = args
    app = App.model_validate_json(app_json)
    runtime = open_runtime(_settings(home, url), extra_apps=[app], migrate=False)
    actor = Actor.operator(project_id)
    got: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        time.sleep(max(start - time.time(), 0))
        creds = runtime.service.credentials.resolve(actor, connection_id)
        with lock:
            got.append(held(creds))

    try:
        threads = [threading.Thread(target=one) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return got
    finally:
        runtime.close()


@pytest.mark.parametrize("kind", sorted(PEERS))
def test_one_mint_for_a_storm_on_an_expired_minted_token(
    kind: str, tmp_path: Path, database_url: str
) -> None:
    home = str(tmp_path / "home")
    with PEERS[kind](0.3) as peer:
        runtime = open_runtime(_settings(home, database_url), extra_apps=[peer.app])
        try:
            project, _ = runtime.service.system.bootstrap()
            actor = Actor.operator(project.id)
            made = peer.connect(runtime.service, actor)
            old = peer.token(runtime.service.credentials.resolve(actor, made))
            with runtime.db.write() as conn:
                conn.execute(
                    update(connections)
                    .where(connections.c.id == made)
                    .values(expires_at=utcnow() - timedelta(minutes=1))
                )
            before = peer.mints()
            start = time.time() + 4.0
            args = (home, database_url, peer.app.model_dump_json(), project.id, made, start)
            with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
                results = pool.map(_storm, [args] * PROCESSES)
        finally:
            runtime.close()
        got = [token for batch in results for token in batch]
        assert len(got) == PROCESSES * THREADS
        assert peer.mints() - before == 1
        assert len(set(got)) == 1
        assert got[0] != old

"""A refresh storm on a minted token: many executions on several processes ask for one
expired token of a recipe kind at once (issue 18). Exactly one mint reaches the peer and every
caller gets the same new token, as for OAuth2 (``test_refresh_storm``). Runs on SQLite and on
PostgreSQL, each peer answering slowly so that every caller arrives while the mint is in
flight."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from gatekey.catalog.schema import App
from gatekey.runtime import open_runtime
from gatekey.service import Actor, utcnow
from gatekey.settings import Settings
from gatekey.store.tables import connections
from tests.fakes.keys import MASTER_KEY
from tests.fakes.login_api import LoginApi, login_api

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


@dataclass
class Peer:
    """A peer that mints, the app using it, how to connect, and how many mints it saw."""

    app: App
    fields: dict[str, str]
    config: dict[str, str]
    mints: Callable[[], int]
    token: Callable[[Any], str]
    """What a caller holds once resolved (the token, or AWS's session token)."""


@contextmanager
def _two_step() -> Iterator[Peer]:
    api = LoginApi(users={"storm": "storm-password-CANARY"}, delay=0.3)
    with login_api(api) as base:
        app = App.model_validate(
            {
                "key": "storm-login",
                "name": "Storm login",
                "docs_url": "https://example.test/docs",
                "base_url": base,
                "builtin": False,
                "auth": [
                    {
                        "kind": "two_step",
                        "fields": {
                            "properties": {
                                "username": {"title": "User"},
                                "password": {"title": "Password", "secret": True},
                            },
                            "required": ["username", "password"],
                        },
                        "two_step": {
                            "token_url": f"{base}/login",
                            "params": {"username": "{username}", "password": "{password}"},
                            "token_path": "data.token",
                            "expires_in_path": "data.expires_in",
                        },
                        "apply": [{"type": "bearer", "value": "{access_token}"}],
                    }
                ],
            }
        )
        yield Peer(
            app,
            {"username": "storm", "password": "storm-password-CANARY"},
            {},
            lambda: api.logins,
            lambda creds: str(creds.fields["access_token"]),
        )


PEERS: dict[str, Callable[[], Any]] = {"two_step": _two_step}


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
        held = creds.fields.get("access_token") or getattr(creds.signing, "session_token", None)
        with lock:
            got.append(str(held))

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
    with PEERS[kind]() as peer:
        runtime = open_runtime(_settings(home, database_url), extra_apps=[peer.app])
        try:
            project, _ = runtime.service.system.bootstrap()
            actor = Actor.operator(project.id)
            made = runtime.service.connections.create(
                actor,
                app=peer.app.key,
                name="storm",
                fields=peer.fields,
                config=peer.config,
                validate=False,
            )
            old = peer.token(runtime.service.credentials.resolve(actor, made.id))
            with runtime.db.write() as conn:
                conn.execute(
                    update(connections)
                    .where(connections.c.id == made.id)
                    .values(expires_at=utcnow() - timedelta(minutes=1))
                )
            before = peer.mints()
            start = time.time() + 4.0
            args = (home, database_url, peer.app.model_dump_json(), project.id, made.id, start)
            with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
                results = pool.map(_storm, [args] * PROCESSES)
        finally:
            runtime.close()
        held = [token for batch in results for token in batch]
        assert len(held) == PROCESSES * THREADS
        assert peer.mints() - before == 1
        assert len(set(held)) == 1
        assert held[0] != old

"""``oauth.refresh_store``: what a refresh does with the provider's answer when the database is
not there to take it.

The provider has rotated the refresh token by then, and the new one exists nowhere else: the
token set is stored once the database is back (within ``refresh_commit_seconds``), replaces the
token set it was refreshed from even after the lease lapsed, and never replaces a reconnect's.
A waiter sees an outage as ``database_unavailable`` at once and gives up on a silent lease
holder after the provider timeout plus that budget.

The outages are real: a private PostgreSQL cluster stopped with ``pg_ctl`` just after the
sandbox answered (the PostgreSQL tests only). The lease and reconnect races run on SQLite too.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import update

from gatekey.errors import DatabaseUnavailable, ProviderUnavailable
from gatekey.oauth.refresh_store import LEASE
from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.store import connections as rows
from gatekey.store.tables import connections
from tests.fakes.keys import MASTER_KEY
from tests.fakes.postgres_cluster import PrivatePostgres
from tests.fakes.sandbox import Sandbox, connect, sandbox_project

pytestmark = pytest.mark.slow  # outages: a database stopped and started


class AfterAnswer(httpx2.BaseTransport):
    """The network, except that once the provider answered a token request, ``then`` runs
    before Gatekey sees the answer (once; set it again for another)."""

    def __init__(self) -> None:
        self.inner = httpx2.HTTPTransport()
        self.then: Callable[[], None] | None = None

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self.inner.handle_request(request)
        if request.url.path.endswith("/token") and self.then is not None:
            response.read()
            hook, self.then = self.then, None
            hook()
        return response

    def close(self) -> None:
        self.inner.close()


@dataclass
class Setup:
    runtime: Runtime
    service: Service
    actor: Actor
    connection_id: str
    transport: AfterAnswer


def _setup(settings: Settings, sandbox: Sandbox) -> Setup:
    sandbox.control("reset")
    sandbox.control("ttl", seconds=3600)
    transport = AfterAnswer()
    runtime = open_runtime(settings, transport=transport, extra_apps=[sandbox.app])
    service = runtime.service
    actor = sandbox_project(service)
    connection_id = connect(service, actor, sandbox)
    with service.context.db.write() as conn:  # the token expired: the next resolution refreshes
        conn.execute(
            update(connections)
            .where(connections.c.id == connection_id)
            .values(
                expires_at=service.context.now() - timedelta(seconds=1),
                version=connections.c.version + 1,
            )
        )
    return Setup(runtime, service, actor, connection_id, transport)


def _lease_of(setup: Setup) -> Any:
    found = setup.service.internals.secrets.whole(setup.actor.project_id, setup.connection_id)
    assert found is not None
    return found[1].refresh_lease_until


def _secret(setup: Setup) -> dict[str, Any]:
    return setup.service.credentials.open(setup.actor, setup.connection_id).secret


@pytest.fixture
def on_private(
    tmp_path: Path, private_cluster: PrivatePostgres, sandbox: Sandbox
) -> Iterator[Setup]:
    url = private_cluster.create_database(f"refresh_{uuid.uuid4().hex[:8]}")
    settings = Settings(
        home=tmp_path / "home", database_url=url, master_keys=MASTER_KEY, audit_flush_interval=0.05
    )
    setup = _setup(settings, sandbox)
    yield setup
    private_cluster.ensure_running()
    setup.runtime.close()


def _down_for(cluster: PrivatePostgres, seconds: float, started: list[threading.Thread]) -> None:
    cluster.stop("fast")
    back = threading.Timer(seconds, cluster.ensure_running)
    back.start()
    started.append(back)


def test_a_token_set_issued_as_the_database_goes_down_is_stored_when_it_is_back(
    on_private: Setup, private_cluster: PrivatePostgres, sandbox: Sandbox, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    setup = on_private
    before = _secret(setup)
    timers: list[threading.Thread] = []
    setup.transport.then = lambda: _down_for(private_cluster, 1.5, timers)

    try:
        fresh = setup.service.credentials.resolve(setup.actor, setup.connection_id)
    finally:
        for timer in timers:
            timer.join()
    assert timers, "the database went down after the provider answered"
    stored = _secret(setup)
    assert stored["access_token"] == fresh.fields["access_token"] != before["access_token"]
    assert stored["refresh_token"] != before["refresh_token"]
    assert stored["refresh_token"] in sandbox.state.refresh_index, "the live refresh token"
    assert _lease_of(setup) is None, "the lease is released"
    assert "storing the refreshed token set" in caplog.text
    assert "sbx_" not in caplog.text, "no token in any log line"
    again = setup.service.credentials.resolve(
        setup.actor, setup.connection_id, stale_token=fresh.fields["access_token"]
    )
    assert again.fields["access_token"] != fresh.fields["access_token"], "the grant lives on"


def test_an_outage_longer_than_the_budget_is_a_503_and_a_log_line_without_the_token(
    on_private: Setup, private_cluster: PrivatePostgres, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    setup = on_private
    setup.service.internals.refresher.store.commit_seconds = 1.0
    timers: list[threading.Thread] = []
    setup.transport.then = lambda: _down_for(private_cluster, 4.0, timers)

    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            setup.service.credentials.resolve(setup.actor, setup.connection_id)
    finally:
        for timer in timers:
            timer.join()
    assert caught.value.retry_after is not None and caught.value.retry_after > 0
    lost = [r for r in caplog.records if r.levelno == logging.ERROR and "is lost" in r.message]
    assert len(lost) == 1 and setup.connection_id in lost[0].message
    # the lease is handed to a thread that releases it once the database is back
    deadline = time.monotonic() + 20
    while _lease_of(setup) is not None:
        assert time.monotonic() < deadline, "the lease was left to lapse"
        time.sleep(0.05)
    assert "sbx_" not in caplog.text, "no token in any log line"


def test_a_waiter_sees_an_outage_as_database_unavailable_at_once(
    on_private: Setup, private_cluster: PrivatePostgres
) -> None:
    setup = on_private
    service = setup.service
    row = service.internals.secrets.read(setup.actor.project_id, setup.connection_id)
    assert row is not None
    now = service.context.now()
    with service.context.db.write() as conn:  # another replica is refreshing
        assert rows.claim_refresh(
            conn, row.id, version=row.version, owner="replica-2", until=now + LEASE, now=now
        )
    outcome: dict[str, BaseException] = {}

    def resolve() -> None:
        try:
            service.credentials.resolve(setup.actor, setup.connection_id)
        except BaseException as exc:
            outcome["error"] = exc

    waiter = threading.Thread(target=resolve)
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive(), "the expired token waits for the other replica's refresh"
    private_cluster.stop("fast")
    try:
        waiter.join(timeout=20)
        assert not waiter.is_alive(), "the waiter stalled through the outage"
    finally:
        private_cluster.start()
    assert isinstance(outcome.get("error"), DatabaseUnavailable), repr(outcome.get("error"))


def test_a_waiter_gives_up_on_a_silent_lease_holder_after_timeout_plus_budget(
    settings: Settings, sandbox: Sandbox
) -> None:
    setup = _setup(settings, sandbox)
    service = setup.service
    service.internals.provider._timeout = 0.5
    service.internals.refresher.store.commit_seconds = 0.5
    row = service.internals.secrets.read(setup.actor.project_id, setup.connection_id)
    assert row is not None
    now = service.context.now()
    with service.context.db.write() as conn:  # a replica that died mid-refresh
        rows.claim_refresh(
            conn, row.id, version=row.version, owner="dead", until=now + LEASE, now=now
        )
    outcome: dict[str, BaseException] = {}

    def resolve() -> None:
        try:
            service.credentials.resolve(setup.actor, setup.connection_id)
        except BaseException as exc:
            outcome["error"] = exc

    waiter = threading.Thread(target=resolve, daemon=True)
    waiter.start()
    waiter.join(timeout=20)  # a hang guard, far above the 2 s the waiter may wait
    try:
        assert not waiter.is_alive(), "the waiter waited out the whole lease"
        error = outcome.get("error")
        assert isinstance(error, ProviderUnavailable) and error.retry_after, repr(error)
        assert sandbox.token_requests("refresh_token") == 0
    finally:
        setup.runtime.close()


def test_an_answer_that_comes_after_the_lease_lapsed_is_still_stored(
    settings: Settings, sandbox: Sandbox
) -> None:
    setup = _setup(settings, sandbox)
    service = setup.service
    before = _secret(setup)

    def lapse_and_take_over() -> None:
        row = service.internals.secrets.read(setup.actor.project_id, setup.connection_id)
        assert row is not None
        later = service.context.now() + LEASE + timedelta(seconds=1)
        with service.context.db.write() as conn:  # the lease lapsed; another replica took it
            assert rows.claim_refresh(
                conn, row.id, version=row.version, owner="replica-2", until=later + LEASE, now=later
            )

    setup.transport.then = lapse_and_take_over
    try:
        fresh = service.credentials.resolve(setup.actor, setup.connection_id)
        stored = _secret(setup)
        assert stored["access_token"] == fresh.fields["access_token"] != before["access_token"]
        assert stored["refresh_token"] in sandbox.state.refresh_index, "the rotated token is kept"
        connection = service.connections.get(setup.actor, setup.connection_id)
        assert connection.status == "active"
    finally:
        setup.runtime.close()


def test_a_reconnect_during_a_refresh_is_not_overwritten_by_the_refresh(
    settings: Settings, sandbox: Sandbox
) -> None:
    setup = _setup(settings, sandbox)
    service = setup.service
    reconnected: dict[str, Any] = {}

    def reconnect() -> None:
        session = service.authorizations.start(setup.actor, connection_id=setup.connection_id)
        outcome = service.system.complete_authorization(
            sandbox.consent(session.authorize_url or "")
        )
        assert outcome.status == "succeeded"
        reconnected.update(_secret(setup))

    setup.transport.then = reconnect
    try:
        fresh = service.credentials.resolve(setup.actor, setup.connection_id)
        assert fresh.fields["access_token"] == reconnected["access_token"]
        assert _secret(setup) == reconnected, "the new grant's token set stays"
    finally:
        setup.runtime.close()

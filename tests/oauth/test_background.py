from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from gatekey.oauth.background import BackgroundRefresher, RateCap
from gatekey.service import Actor, ConnectionService
from gatekey.store.tables import connections
from tests.fakes.sandbox import Sandbox
from tests.service.test_oauth_flow import connect


def _expire_in(service: ConnectionService, connection_id: str, delta: timedelta) -> None:
    with service.db.write() as conn:
        conn.execute(
            update(connections)
            .where(connections.c.id == connection_id)
            .values(expires_at=service.clock() + delta)
        )


def test_sweep_refreshes_what_falls_due_before_the_next_sweep(
    oauth_service: ConnectionService, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    soon = connect(oauth_service, oauth_actor, sandbox, name="Soon")
    later = connect(oauth_service, oauth_actor, sandbox, name="Later")
    _expire_in(oauth_service, soon, timedelta(seconds=90))
    _expire_in(oauth_service, later, timedelta(minutes=30))
    refresher = BackgroundRefresher(oauth_service, interval=30, concurrency=2, rate_per_app=60)

    first = refresher.sweep()

    assert (first.refreshed, first.failed) == (1, 0)
    assert sandbox.token_requests("refresh_token") == 1
    expires = oauth_service.get_connection(oauth_actor, soon).expires_at
    assert expires is not None and expires > oauth_service.clock() + timedelta(minutes=50)
    assert refresher.sweep().refreshed == 0, "nothing is due any more"


def test_sweep_records_failures_without_deactivating(
    oauth_service: ConnectionService, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    _expire_in(oauth_service, connection_id, timedelta(seconds=90))
    sandbox.control("fail", status=503)
    result = BackgroundRefresher(oauth_service, interval=30, concurrency=1, rate_per_app=60).sweep()
    assert result.refreshed == 0
    connection = oauth_service.get_connection(oauth_actor, connection_id)
    assert connection.status == "active" and "503" in (connection.last_error or "")


def test_the_rate_cap_defers_the_rest_of_a_burst(
    oauth_service: ConnectionService, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    ids = [connect(oauth_service, oauth_actor, sandbox, name=f"Burst {n}") for n in range(3)]
    for connection_id in ids:
        _expire_in(oauth_service, connection_id, timedelta(minutes=1))
    result = BackgroundRefresher(oauth_service, interval=30, concurrency=4, rate_per_app=2).sweep()
    assert (result.refreshed, result.deferred) == (2, 1)


def test_rate_cap_slides_over_a_minute() -> None:
    now = [0.0]
    cap = RateCap(2, monotonic=lambda: now[0])
    assert cap.allow("a") and cap.allow("a") and not cap.allow("a")
    assert cap.allow("b")
    now[0] = 60.5
    assert cap.allow("a")

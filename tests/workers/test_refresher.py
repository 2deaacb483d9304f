from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from gatekey.catalog.schema import App
from gatekey.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.store.tables import connections
from gatekey.workers import refresher as refresher_module
from gatekey.workers.refresher import BackgroundRefresher, pace
from tests.fakes.sandbox import Sandbox, connect, sandbox_project


def _expire_in(service: Service, connection_id: str, delta: timedelta) -> None:
    """Make the token an hour-long one that expires ``delta`` from now."""
    now = service.context.now()
    with service.context.db.write() as conn:
        conn.execute(
            update(connections)
            .where(connections.c.id == connection_id)
            .values(expires_at=now + delta, last_refreshed_at=now + delta - timedelta(hours=1))
        )


def test_sweep_refreshes_what_falls_due_before_the_next_sweep(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    soon = connect(oauth_service, oauth_actor, sandbox, name="Soon")
    later = connect(oauth_service, oauth_actor, sandbox, name="Later")
    _expire_in(oauth_service, soon, timedelta(seconds=90))
    _expire_in(oauth_service, later, timedelta(minutes=30))
    refresher = BackgroundRefresher(
        oauth_service.system,
        interval=30,
        concurrency=2,
        rate_per_app=60,
        limiter=oauth_service.internals.limiter,
    )

    first = refresher.sweep()

    assert (first.refreshed, first.failed) == (1, 0)
    assert sandbox.token_requests("refresh_token") == 1
    expires = oauth_service.connections.get(oauth_actor, soon).expires_at
    assert expires is not None and expires > oauth_service.context.now() + timedelta(minutes=50)
    assert refresher.sweep().refreshed == 0, "nothing is due any more"


def test_sweep_records_failures_without_deactivating(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    _expire_in(oauth_service, connection_id, timedelta(seconds=90))
    sandbox.control("fail", status=503)
    result = BackgroundRefresher(
        oauth_service.system,
        interval=30,
        concurrency=1,
        rate_per_app=60,
        limiter=oauth_service.internals.limiter,
    ).sweep()
    assert result.refreshed == 0
    connection = oauth_service.connections.get(oauth_actor, connection_id)
    assert connection.status == "active" and "503" in (connection.last_error or "")


def test_the_rate_cap_defers_what_it_cannot_start_before_the_sweep_ends(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    ids = [connect(oauth_service, oauth_actor, sandbox, name=f"Burst {n}") for n in range(3)]
    for connection_id in ids:
        _expire_in(oauth_service, connection_id, timedelta(seconds=-1))
    # one a second: the first starts at once, the second would start a second later, after
    # this 0.2 s sweep has ended
    refresher = BackgroundRefresher(
        oauth_service.system, interval=0.2, concurrency=4, rate_per_app=1, limiter=MemoryLimiter()
    )
    result = refresher.sweep()
    assert (result.refreshed, result.deferred) == (1, 2)
    assert sandbox.token_requests("refresh_token") == 1


def test_a_sweep_pages_through_everything_due_at_the_apps_pace(
    oauth_service: Service,
    oauth_actor: Actor,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = [connect(oauth_service, oauth_actor, sandbox, name=f"Due {n}") for n in range(7)]
    same = oauth_service.context.now() + timedelta(minutes=1)
    with oauth_service.context.db.write() as conn:  # one expiry for all: pages break ties by id
        conn.execute(
            update(connections)
            .where(connections.c.id.in_(ids))
            .values(expires_at=same, last_refreshed_at=same - timedelta(hours=1))
        )
    monkeypatch.setattr(refresher_module, "BATCH", 2)
    refresher = BackgroundRefresher(
        oauth_service.system, interval=30, concurrency=3, rate_per_app=50, limiter=MemoryLimiter()
    )
    began = time.monotonic()
    result = refresher.sweep()
    elapsed = time.monotonic() - began
    assert (result.refreshed, result.failed, result.deferred) == (7, 0, 0)
    assert sandbox.token_requests("refresh_token") == 7
    # 50 a second: the last of 7 cannot start before 6/50 s (a lower bound only: a slow
    # machine makes it later, never sooner)
    assert elapsed >= 6 / 50
    page = oauth_service.system.refresh_candidates(ahead=timedelta(seconds=60), limit=10)
    assert page.due == [] and page.after is None


def test_candidates_are_due_by_their_apps_margin_soonest_first(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    late, soon, outside = (connect(oauth_service, oauth_actor, sandbox, name=n) for n in "ABC")
    with oauth_service.context.db.write() as conn:  # an hour-long token: the app's 5-minute margin
        conn.execute(
            update(connections).values(
                last_refreshed_at=oauth_service.context.now() - timedelta(hours=1)
            )
        )
    _expire_in(oauth_service, late, timedelta(minutes=5, seconds=30))
    _expire_in(oauth_service, soon, timedelta(minutes=2))
    _expire_in(oauth_service, outside, timedelta(minutes=20))  # within the 1 h prefilter only
    first = oauth_service.system.refresh_candidates(ahead=timedelta(seconds=60), limit=1)
    assert [c.connection_id for c in first.due] == [soon] and first.after is not None
    second = oauth_service.system.refresh_candidates(
        ahead=timedelta(seconds=60), limit=5, after=first.after
    )
    assert [c.connection_id for c in second.due] == [late] and second.after is None


def test_pace_admits_one_request_per_interval_never_a_burst() -> None:
    now = [0.0]
    limiter = MemoryLimiter(clock=lambda: now[0])
    rate = pace(10)
    assert limiter.hit("a", rate) is None
    wait = limiter.hit("a", rate)
    assert wait is not None and wait == pytest.approx(0.1)
    now[0] += 0.11
    assert limiter.hit("a", rate) is None and limiter.hit("a", rate) is not None
    now[0] += 5  # idle for a while: still one at a time, no saved-up burst
    assert limiter.hit("a", rate) is None and limiter.hit("a", rate) is not None
    assert limiter.hit("b", rate) is None


def _limiters() -> list[Any]:
    """One limiter shared by two refreshers: in memory, and in Redis when the suite has one."""
    kinds: list[Any] = [pytest.param("memory", id="memory")]
    kinds.append(
        pytest.param(
            "redis",
            id="redis",
            marks=pytest.mark.skipif(
                not os.environ.get("GATEKEY_TEST_REDIS_URL"),
                reason="GATEKEY_TEST_REDIS_URL is not set",
            ),
        )
    )
    return kinds


@pytest.mark.parametrize("kind", _limiters())
def test_refreshers_sharing_a_limiter_share_one_cap(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox, kind: str
) -> None:
    ids = [connect(oauth_service, oauth_actor, sandbox, name=f"Shared {n}") for n in range(3)]
    for connection_id in ids:
        _expire_in(oauth_service, connection_id, timedelta(seconds=-1))
    if kind == "redis":
        prefix = f"test-{uuid.uuid4().hex}:"
        limiters: list[Limiter] = [
            RedisLimiter(os.environ["GATEKEY_TEST_REDIS_URL"], prefix=prefix) for _ in range(2)
        ]
    else:
        limiters = [MemoryLimiter()] * 2
    replicas = [
        BackgroundRefresher(
            oauth_service.system, interval=0.2, concurrency=2, rate_per_app=1, limiter=limiter
        )
        for limiter in limiters
    ]
    first, second = (replica.sweep() for replica in replicas)
    assert (first.refreshed, first.deferred) == (1, 2)
    assert (second.refreshed, second.deferred) == (0, 2), "the first replica spent the budget"
    assert sandbox.token_requests("refresh_token") == 1


def test_a_short_token_a_sweep_refreshed_is_left_alone_until_it_expires(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    """20 s tokens and a sweep every 30 s: the next sweep (or a sibling replica's) finds the new
    token as due by the lookahead as the old one; it makes no token request for it."""
    sandbox.control("ttl", seconds=20)
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    _expire_in(oauth_service, connection_id, timedelta(seconds=-1))
    refresher = BackgroundRefresher(
        oauth_service.system,
        interval=30,
        concurrency=1,
        rate_per_app=60,
        limiter=oauth_service.internals.limiter,
    )

    assert refresher.sweep().refreshed == 1
    for _ in range(3):
        assert refresher.sweep().refreshed == 0, "a fresh token is not refreshed again"
    assert sandbox.token_requests("refresh_token") == 1
    real = oauth_service.context.clock
    oauth_service.context.clock = lambda: real() + timedelta(seconds=21)  # its lifetime is over
    assert refresher.sweep().refreshed == 1, "once per lifetime"
    assert sandbox.token_requests("refresh_token") == 2


def test_an_idle_grant_two_replicas_listed_is_refreshed_once(
    settings: Settings, sandbox: Sandbox
) -> None:
    definition = sandbox.app.model_dump(mode="json", exclude_unset=True)
    definition["auth"][0]["oauth2"]["idle_refresh_days"] = 30
    sandbox.control("reset")
    sandbox.control("ttl", seconds=3600)
    runtime = open_runtime(settings, extra_apps=[App.model_validate(definition)])
    try:
        service = runtime.service
        actor = sandbox_project(service)
        connection_id = connect(service, actor, sandbox)
        with service.context.db.write() as conn:  # unused for 40 days, its access token still valid
            conn.execute(
                update(connections)
                .where(connections.c.id == connection_id)
                .values(last_refreshed_at=service.context.now() - timedelta(days=40))
            )
        (listed,) = service.system.refresh_candidates(ahead=timedelta(seconds=60), limit=10).due
        assert listed.idle
        # both replicas listed it before either refreshed it
        refreshed = [
            service.system.refresh_ahead(
                listed.project_id, listed.connection_id, ahead=timedelta(seconds=60), idle=True
            )
            for _ in range(2)
        ]
        assert refreshed == [True, False]
        assert sandbox.token_requests("refresh_token") == 1
    finally:
        runtime.close()

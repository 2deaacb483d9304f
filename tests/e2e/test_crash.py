"""A process killed (SIGKILL) after the provider answered a refresh but before the commit.

What happens, and what the tests pin down:

- Nothing of the new token set reaches the database: the connection keeps its previous
  refresh token, version and status, and its lease lapses after ``LEASE``.
- The next resolution after that refreshes with the previous refresh token. A provider that
  keeps it valid (no rotation, or a reuse grace period) answers with a new token and all is
  well. A provider that rotated and invalidated it answers ``invalid_grant``: the connection
  becomes Inactive with the provider's reason, so people see it and reconnect (same id); it
  is never left active but silently unable to refresh.
"""

from __future__ import annotations

import multiprocessing
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from gatekey.errors import ConnectionInactive
from gatekey.oauth.refresh import Refresher
from gatekey.oauth.refresh_store import LEASE, RefreshStore
from gatekey.oauth.sandbox import sandbox_app_definition
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service, utcnow
from gatekey.settings import Settings
from gatekey.store.tables import connections
from tests.fakes.keys import MASTER_KEY
from tests.fakes.sandbox import Sandbox, connect, sandbox_project

pytestmark = pytest.mark.slow  # crashes: processes killed with SIGKILL


def _settings(home: str, url: str) -> Settings:
    return Settings(home=Path(home), database_url=url, master_keys=MASTER_KEY)


POINTS = ("before_send", "in_flight", "before_commit", "after_commit")


def _refresh_then_hang(
    home: str, url: str, sandbox_url: str, project: str, cid: str, point: str
) -> None:
    """Refresh, and stop dead at ``point``: before the token request is sent, while it is in
    flight (the sandbox is slowed down), between the provider's answer and the commit, or
    right after the commit."""
    marker = Path(home, "at-point")

    def hang() -> None:
        marker.write_text(point)
        time.sleep(600)

    if point == "before_send":

        def before_send(self: Any, *args: Any, **kwargs: Any) -> Any:
            hang()

        Refresher._token_request = before_send  # type: ignore[method-assign]
    elif point == "before_commit":

        def before_commit(self: Any, *args: Any, **kwargs: Any) -> Any:
            hang()

        RefreshStore.store = before_commit  # type: ignore[method-assign]
    elif point == "after_commit":
        store = RefreshStore.store

        def after_commit(self: Any, *args: Any, **kwargs: Any) -> Any:
            store(self, *args, **kwargs)
            hang()

        RefreshStore.store = after_commit  # type: ignore[method-assign]
    runtime = open_runtime(
        _settings(home, url), extra_apps=[sandbox_app_definition(sandbox_url)], migrate=False
    )
    runtime.service.credentials.resolve(Actor.operator(project), cid)


def _crash_during_refresh(
    tmp_path: Path, database_url: str, sandbox: Sandbox, point: str = "before_commit"
) -> tuple[Service, Actor, str, dict[str, Any], int, Any]:
    home = str(tmp_path / "home")
    runtime = open_runtime(_settings(home, database_url), extra_apps=[sandbox.app])
    service = runtime.service
    actor = sandbox_project(service)
    cid = connect(service, actor, sandbox)
    with runtime.db.write() as conn:
        conn.execute(
            update(connections)
            .where(connections.c.id == cid)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    before = service.credentials.open(actor, cid).secret
    version = service.connections.get(actor, cid).version
    if point == "in_flight":
        sandbox.control("slow", ms=3000)
    child = multiprocessing.get_context("spawn").Process(
        target=_refresh_then_hang,
        args=(home, database_url, sandbox.url, actor.project_id, cid, point),
    )
    child.start()
    deadline = time.monotonic() + 60

    def reached() -> bool:
        if point == "in_flight":
            return sandbox.token_requests("refresh_token") == 1
        return Path(home, "at-point").exists()

    while not reached():
        assert time.monotonic() < deadline and child.is_alive(), f"the child never got {point}"
        time.sleep(0.02)
    child.kill()  # SIGKILL: no cleanup, no rollback handler, no lease release
    child.join()
    if point == "in_flight":
        time.sleep(3.2)  # the provider answers the dead process, as a real one would
        sandbox.control("slow", ms=0)
    expected = 0 if point == "before_send" else 1
    assert sandbox.token_requests("refresh_token") == expected
    return service, actor, cid, before, version, runtime


ROUNDS = [
    pytest.param(point, rotating, id=f"{point}-{'rotating' if rotating else 'keeping'}-{n}")
    for point in POINTS
    for rotating, rounds in ((False, 2), (True, 1))
    for n in range(1, rounds + 1)
]


@pytest.mark.parametrize(("point", "rotating"), ROUNDS)
def test_kill_9_at_each_point_of_a_refresh(
    tmp_path: Path, database_url: str, sandbox: Sandbox, point: str, rotating: bool
) -> None:
    """After the kill and the lease's lapse, the next resolution gets a working token, or, only
    when the provider rotated a refresh token whose answer died with the process, an Inactive
    connection that says why. No token is lost and nothing half-written is served."""
    sandbox.control("reset")
    sandbox.state.rotate_refresh = rotating
    try:
        service, actor, cid, before, version, runtime = _crash_during_refresh(
            tmp_path, database_url, sandbox, point
        )
        requests = sandbox.token_requests("refresh_token")
        committed = point == "after_commit"
        stored = service.credentials.open(actor, cid).secret
        assert (stored != before) == committed, "only a commit changes the stored token set"
        assert (service.connections.get(actor, cid).version > version) == committed
        real = service.context.clock
        service.context.clock = lambda: (
            real() + LEASE + timedelta(seconds=1)
        )  # the lease has lapsed
        lost_answer = point in ("in_flight", "before_commit")
        if rotating and lost_answer:
            with pytest.raises(ConnectionInactive) as caught:
                service.credentials.resolve(actor, cid)
            assert caught.value.details["reason"] == "revoked"
        else:
            fresh = service.credentials.resolve(actor, cid)
            assert fresh.fields["access_token"] != before["access_token"]
            assert service.connections.get(actor, cid).status == "active"
            extra = 0 if committed else 1
            assert sandbox.token_requests("refresh_token") == requests + extra
        runtime.close()
    finally:
        sandbox.state.rotate_refresh = True


def test_kill_9_mid_refresh_keeps_the_previous_token_set(
    tmp_path: Path, database_url: str, sandbox: Sandbox
) -> None:
    sandbox.control("reset")
    sandbox.state.rotate_refresh = False  # a provider that keeps refresh tokens valid
    try:
        service, actor, cid, before, version, runtime = _crash_during_refresh(
            tmp_path, database_url, sandbox
        )
        after = service.credentials.open(actor, cid).secret
        assert after == before, "nothing of the lost answer was stored"
        connection = service.connections.get(actor, cid)
        assert connection.version == version and connection.status == "active"

        real = service.context.clock
        service.context.clock = lambda: (
            real() + LEASE + timedelta(seconds=1)
        )  # the lease has lapsed
        fresh = service.credentials.resolve(actor, cid)
        assert fresh.fields["access_token"] != before["access_token"]
        assert sandbox.token_requests("refresh_token") == 2
        runtime.close()
    finally:
        sandbox.state.rotate_refresh = True


def test_kill_9_with_a_rotating_provider_ends_inactive_not_silently_broken(
    tmp_path: Path, database_url: str, sandbox: Sandbox
) -> None:
    sandbox.control("reset")
    service, actor, cid, _, _, runtime = _crash_during_refresh(tmp_path, database_url, sandbox)
    real = service.context.clock
    service.context.clock = lambda: real() + LEASE + timedelta(seconds=1)
    with pytest.raises(ConnectionInactive) as caught:
        service.credentials.resolve(actor, cid)
    assert caught.value.details["reason"] == "revoked"
    connection = service.connections.get(actor, cid)
    assert connection.status == "inactive" and connection.status_reason == "revoked"
    runtime.close()

"""Credentials a provider deactivates when idle are used before it does: a connection unused
for half its app's limit is tested once per window, which counts as a use; refused ones end
inactive as Test leaves them, an unreachable provider is tried again after the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gatekey.runtime import Runtime, background_keepalive
from gatekey.service import Actor, Service
from gatekey.store import connections as rows
from tests.fakes.apps import retiring
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def helpdesk(service: Service, actor: Actor) -> Service:
    service.apps.add(actor, retiring())
    service.context.clock = lambda: T0
    return service


def _at(service: Service, when: datetime) -> None:
    service.context.clock = lambda: when


def _token(service: Service, actor: Actor, name: str) -> str:
    return service.connections.create(
        actor, app="helpdesk", name=name, auth_kind="api_key", fields={"api_key": GOOD_SENDGRID}
    ).id


def _due(service: Service) -> list[str]:
    return [c.connection_id for c in service.system.keepalive_candidates(limit=50).due]


def _asked(providers: FakeProviders) -> int:
    return sum(1 for r in providers.requests if r.url.host == "api.acme.test")


def test_an_idle_connection_is_used_once_and_then_counts_as_used(
    helpdesk: Service, actor: Actor, providers: FakeProviders
) -> None:
    idle, busy = _token(helpdesk, actor, "Idle"), _token(helpdesk, actor, "Busy")
    _at(helpdesk, T0 + timedelta(days=10))
    helpdesk.credentials.resolve(actor, busy)  # an execution used it
    helpdesk.context.audit.flush()
    _at(helpdesk, T0 + timedelta(days=14, hours=23))
    assert _due(helpdesk) == []  # not yet half of the 30 days
    later = T0 + timedelta(days=15, hours=1)
    _at(helpdesk, later)
    assert _due(helpdesk) == [idle]
    before = _asked(providers)
    assert helpdesk.system.keep_alive(actor.project_id, idle, window=HOUR) == "kept"
    assert _asked(providers) == before + 1
    assert helpdesk.system.keep_alive(actor.project_id, idle, window=HOUR) == "skipped"
    assert _asked(providers) == before + 1
    helpdesk.context.audit.flush()
    kept = helpdesk.connections.get(actor, idle)
    assert kept.last_used_at == later and kept.verified_at == later
    assert kept.status == "active"
    _at(helpdesk, later + timedelta(days=14))
    assert _due(helpdesk) == [busy]  # the keep-alive restarted Idle's count
    trail = [(e.action, e.outcome) for e in helpdesk.connections.audit_trail(actor, idle)]
    assert ("connection.test", "ok") in trail and ("credentials.read", "ok") in trail


def test_credentials_the_provider_refuses_end_inactive_and_are_not_tried_again(
    helpdesk: Service, actor: Actor, providers: FakeProviders
) -> None:
    cid = _token(helpdesk, actor, "Desk")
    providers.accepted.discard(GOOD_SENDGRID)  # the provider deactivated the token
    _at(helpdesk, T0 + timedelta(days=16))
    assert helpdesk.system.keep_alive(actor.project_id, cid, window=HOUR) == "refused"
    refused = helpdesk.connections.get(actor, cid)
    assert (refused.status, refused.status_reason) == ("inactive", "invalid_credentials")
    assert refused.status_message == "Helpdesk rejected the credentials (HTTP 401): unauthorized"
    _at(helpdesk, T0 + timedelta(days=17))
    assert _due(helpdesk) == []


def test_an_unreachable_provider_is_recorded_and_tried_again_after_the_window(
    helpdesk: Service, actor: Actor, providers: FakeProviders
) -> None:
    cid = _token(helpdesk, actor, "Desk")
    providers.unreachable = True
    first = T0 + timedelta(days=16)
    _at(helpdesk, first)
    assert helpdesk.system.keep_alive(actor.project_id, cid, window=HOUR) == "unreachable"
    with helpdesk.context.db.read() as conn:
        row = rows.get(conn, actor.project_id, cid)
    assert row is not None and row.status == "active" and row.keepalive_failed_at == first
    asked = len(providers.requests)
    _at(helpdesk, first + timedelta(minutes=59))
    assert _due(helpdesk) == []  # still claimed
    assert helpdesk.system.keep_alive(actor.project_id, cid, window=HOUR) == "skipped"
    assert len(providers.requests) == asked
    providers.unreachable = False
    _at(helpdesk, first + HOUR)
    assert _due(helpdesk) == [cid]
    assert helpdesk.system.keep_alive(actor.project_id, cid, window=HOUR) == "kept"


def test_only_methods_that_die_when_idle_and_can_be_tested_are_swept(
    helpdesk: Service, actor: Actor
) -> None:
    desk = _token(helpdesk, actor, "Desk")
    helpdesk.connections.create(
        actor, app="sendgrid", name="Mail", fields={"api_key": GOOD_SENDGRID}
    )
    untested = retiring(key="quiet-desk", name="Quiet desk")
    del untested["auth"][1]["test_request"]
    helpdesk.apps.add(actor, untested)
    helpdesk.connections.create(
        actor,
        app="quiet-desk",
        name="Quiet",
        auth_kind="api_key",
        fields={"api_key": GOOD_SENDGRID},
        validate=False,
    )
    _at(helpdesk, T0 + timedelta(days=100))
    assert _due(helpdesk) == [desk]


def test_the_background_loop_sweeps_what_is_due(
    helpdesk: Service, actor: Actor, runtime: Runtime
) -> None:
    ids = [_token(helpdesk, actor, f"Desk {n}") for n in range(3)]
    _at(helpdesk, T0 + timedelta(days=20))
    loop = background_keepalive(runtime)
    assert loop is not None and loop.window == timedelta(seconds=3600 * 0.9)
    done = loop.sweep()
    assert (done.kept, done.refused, done.unreachable) == (3, 0, 0)
    assert loop.sweep().kept == 0
    helpdesk.context.audit.flush()
    assert all(helpdesk.connections.get(actor, c).last_used_at is not None for c in ids)

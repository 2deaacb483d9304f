"""``service.system``: what runs without an actor. A flow's webhook call acts for the flow's
project only with the flow's current secret; the sweep of authorization sessions deletes only
those expired longer than ``older_than``; no method of it takes an actor. (The doors it opens
are tested with their parts: ``test_authentication``, ``test_web_sessions``,
``test_oauth_callback``, ``test_projects``, ``test_master_keys``, ``test_health``.)"""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import pytest

from gatekey.domain.roles import Internal
from gatekey.errors import GatekeyError
from gatekey.service import Actor, Service
from gatekey.service.system import System
from gatekey.store.tables import oauth_sessions
from tests.fakes.providers import sendgrid_connection
from tests.fakes.rows import count


def _flow(service: Service, actor: Actor, name: str = "Mail") -> str:
    connection = sendgrid_connection(service, actor, name=f"SendGrid {name}", validate=False)
    step = {"id": "s", "app": "sendgrid", "connection": connection.id, "type": "http"}
    definition: dict[str, Any] = {"steps": [{**step, "http": {"path": "/v3/scopes"}}]}
    return service.flows.create(actor, name=name, definition=definition).id


def _code(call: Any) -> str:
    with pytest.raises(GatekeyError) as caught:
        call()
    return caught.value.code


def test_a_webhook_call_acts_for_its_flow_with_the_current_secret_only(
    service: Service, actor: Actor, other_actor: Actor
) -> None:
    flow = _flow(service, actor)
    other = _flow(service, actor, "Other")
    old = service.flows.rotate_webhook(actor, flow)
    theirs_flow = _flow(service, other_actor, "Theirs")
    theirs = service.flows.rotate_webhook(other_actor, theirs_flow)

    hook = service.system.webhook_actor(flow, old)
    assert (hook.project_id, hook.key_id, hook.role) == (
        actor.project_id,
        f"webhook:{flow}",
        Internal.FLOW_WEBHOOK,
    )
    assert service.runs.trigger(hook, flow, {}).flow_id == flow
    new = service.flows.rotate_webhook(actor, flow)
    wrong = [
        (flow, old),  # rotated away
        (flow, new + "x"),
        (flow, ""),
        (other, new),  # another flow's secret
        (flow, theirs),  # another project's
        (theirs_flow, new),
    ]
    assert [_code(lambda f=f, s=s: service.system.webhook_actor(f, s)) for f, s in wrong] == [
        "not_found"
    ] * len(wrong)
    assert service.system.webhook_actor(flow, new) == hook
    assert _code(lambda: service.system.webhook_actor("flow_", new)) == "invalid_id"


def test_a_webhook_call_queues_runs_of_its_own_flow_only(service: Service, actor: Actor) -> None:
    flow, other = _flow(service, actor), _flow(service, actor, "Other")
    hook = service.system.webhook_actor(flow, service.flows.rotate_webhook(actor, flow))
    before = len(service.runs.list(actor))
    assert _code(lambda: service.runs.trigger(hook, other, {})) in ("not_found", "forbidden")
    assert len(service.runs.list(actor)) == before


def test_the_sweep_deletes_only_sessions_expired_longer_than_asked(
    service: Service, actor: Actor
) -> None:
    service.oauth_clients.register(actor, app="github", client_id="gh", client_secret="gh-secret")
    real = service.context.clock

    def started(ago: timedelta) -> str:
        service.context.clock = lambda: real() - ago
        try:
            return service.authorizations.start(actor, app="github").id
        finally:
            service.context.clock = real

    long_gone = started(timedelta(days=3))  # expired 3 days less 10 minutes ago
    lately = started(timedelta(hours=2))  # expired an hour and 50 minutes ago
    pending = started(timedelta(0))

    assert service.system.purge_authorization_sessions(older_than=timedelta(days=1)) == 1
    assert _code(lambda: service.authorizations.status(actor, long_gone)) == "not_found"
    assert service.authorizations.status(actor, lately).error_code == "oauth_session_expired"
    assert service.system.purge_authorization_sessions(older_than=timedelta(days=1)) == 0
    assert service.system.purge_authorization_sessions(older_than=timedelta(hours=1)) == 1
    assert service.authorizations.status(actor, pending).status == "pending"
    assert service.system.purge_authorization_sessions(older_than=timedelta(0)) == 0
    assert count(service, oauth_sessions) == 1


def test_nothing_in_system_takes_an_actor() -> None:
    """The rule of ``test_actor`` turned round: these are not for a tenant to call."""
    for name, method in inspect.getmembers(System, inspect.isfunction):
        if not name.startswith("_"):
            parameters = inspect.signature(method).parameters.values()
            assert all(p.name != "actor" and p.annotation != "Actor" for p in parameters), name

"""Runs, the queue API: what is queued, what is refused before anything is queued, retries."""

from __future__ import annotations

import pytest

from gatekey.errors import InvalidId, InvalidInput, NotFound, PayloadTooLarge
from gatekey.service import Actor, ConnectionService

FLOW = {"steps": [{"id": "me", "app": "sendgrid", "type": "http", "http": {"path": "/v3/scopes"}}]}


def test_a_run_is_queued_with_its_input_and_its_pending_steps(
    service: ConnectionService, actor: Actor
) -> None:
    flow = service.create_flow(actor, name="Queued", definition=FLOW)
    run = service.trigger_run(actor, flow.id, {"who": "ada"})
    assert (run.status, run.trigger, run.input, run.retry_of) == (
        "queued",
        "manual",
        {"who": "ada"},
        None,
    )
    assert [(s.step_id, s.status) for s in run.steps] == [("me", "pending")]
    assert service.get_run(actor, run.id) == run
    assert [r.id for r in service.list_runs(actor, flow_id=flow.id, status="queued")] == [run.id]


def test_what_cannot_be_queued_is_refused_before_it_is(
    service: ConnectionService, actor: Actor
) -> None:
    flow = service.create_flow(actor, name="Refused", definition=FLOW)
    with pytest.raises(InvalidInput):
        service.trigger_run(actor, flow.id, ["not", "an", "object"])
    with pytest.raises(PayloadTooLarge):
        service.trigger_run(actor, flow.id, {"big": "x" * 65 * 1024})
    assert service.list_runs(actor, flow_id=flow.id) == []
    with pytest.raises(InvalidInput):
        service.list_runs(actor, status="paused")
    with pytest.raises(InvalidInput):
        service.list_runs(actor, limit=201)


def test_only_a_failed_run_is_retried_and_unknown_runs_are_named(
    service: ConnectionService, actor: Actor
) -> None:
    flow = service.create_flow(actor, name="Retry", definition=FLOW)
    queued = service.trigger_run(actor, flow.id)
    with pytest.raises(InvalidInput, match="only failed runs"):
        service.retry_run(actor, queued.id)
    with pytest.raises(InvalidId):
        service.get_run(actor, "run_nope")
    with pytest.raises(NotFound):
        service.get_run(actor, "run_" + "0" * 26)

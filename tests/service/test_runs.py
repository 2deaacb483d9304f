"""Runs, the queue API: what is queued, what is refused before anything is queued, retries."""

from __future__ import annotations

import pytest

from gatekey.errors import InvalidId, InvalidInput, NotFound, PayloadTooLarge
from gatekey.service import Actor, Service

FLOW = {"steps": [{"id": "me", "app": "sendgrid", "type": "http", "http": {"path": "/v3/scopes"}}]}


def test_a_run_is_queued_with_its_input_and_its_pending_steps(
    service: Service, actor: Actor
) -> None:
    flow = service.flows.create(actor, name="Queued", definition=FLOW)
    run = service.runs.trigger(actor, flow.id, {"who": "ada"})
    assert (run.status, run.trigger, run.input, run.retry_of) == (
        "queued",
        "manual",
        {"who": "ada"},
        None,
    )
    assert [(s.step_id, s.status) for s in run.steps] == [("me", "pending")]
    assert service.runs.get(actor, run.id) == run
    assert [r.id for r in service.runs.list(actor, flow_id=flow.id, status="queued")] == [run.id]


def test_what_cannot_be_queued_is_refused_before_it_is(service: Service, actor: Actor) -> None:
    flow = service.flows.create(actor, name="Refused", definition=FLOW)
    with pytest.raises(InvalidInput):
        service.runs.trigger(actor, flow.id, ["not", "an", "object"])
    with pytest.raises(PayloadTooLarge):
        service.runs.trigger(actor, flow.id, {"big": "x" * 65 * 1024})
    assert service.runs.list(actor, flow_id=flow.id) == []
    with pytest.raises(InvalidInput):
        service.runs.list(actor, status="paused")
    with pytest.raises(InvalidInput):
        service.runs.list(actor, limit=201)


def test_only_a_failed_run_is_retried_and_unknown_runs_are_named(
    service: Service, actor: Actor
) -> None:
    flow = service.flows.create(actor, name="Retry", definition=FLOW)
    queued = service.runs.trigger(actor, flow.id)
    with pytest.raises(InvalidInput, match="only failed runs"):
        service.runs.retry(actor, queued.id)
    with pytest.raises(InvalidId):
        service.runs.get(actor, "run_nope")
    with pytest.raises(NotFound):
        service.runs.get(actor, "run_" + "0" * 26)

from __future__ import annotations

from typing import Any

import pytest

from gatekey.errors import ConnectionInUse, DuplicateName, Hint, InvalidFields
from gatekey.service import Actor, Service
from tests.fakes.providers import GOOD_SENDGRID


def _sendgrid(service: Service, actor: Actor, name: str) -> str:
    return service.connections.create(
        actor, app="sendgrid", name=name, fields={"api_key": GOOD_SENDGRID}, validate=False
    ).id


def _step(step_id: str, connection: str = "default", app: str = "sendgrid") -> dict[str, Any]:
    return {
        "id": step_id,
        "app": app,
        "connection": connection,
        "type": "http",
        "http": {"path": "/v3/mail/send", "method": "POST"},
    }


def test_usage_by_id_and_as_the_default(service: Service, actor: Actor) -> None:
    default = _sendgrid(service, actor, "SendGrid - Prod")
    other = _sendgrid(service, actor, "SendGrid - Staging")
    welcome = service.flows.create(
        actor, name="Welcome", definition={"steps": [_step("mail"), _step("copy", other)]}
    )
    service.flows.create(actor, name="Digest", definition={"steps": [_step("send", other)]})

    usage = service.flows.usage(actor, default)
    assert [(u.flow_name, u.steps, u.by_default) for u in usage.flows] == [
        ("Welcome", ["mail"], True)
    ]
    assert {u.flow_name for u in service.flows.usage(actor, other).flows} == {
        "Welcome",
        "Digest",
    }
    counts = {c.name: c.flows for c in service.connections.list(actor).items}
    assert counts == {"SendGrid - Prod": 1, "SendGrid - Staging": 2}
    assert service.connections.get(actor, other).flows == 2
    assert [f.name for f in service.flows.list(actor, connection_id=default)] == ["Welcome"]
    refs = {(r.step_id, r.connection_id) for r in welcome.connections}
    assert refs == {("mail", None), ("copy", other)}

    # The default moves: so does the usage of the "default" step.
    service.connections.set_default(actor, other)
    assert service.flows.usage(actor, default).flows == []
    assert service.connections.get(actor, other).flows == 2


def test_a_connection_in_use_is_not_deleted_unless_forced(service: Service, actor: Actor) -> None:
    connection_id = _sendgrid(service, actor, "SendGrid")
    service.flows.create(
        actor, name="Welcome", definition={"steps": [_step("mail", connection_id)]}
    )
    with pytest.raises(ConnectionInUse) as caught:
        service.connections.delete(actor, connection_id)
    assert caught.value.details["flows"] == ["Welcome"]
    assert "Welcome" in caught.value.message
    assert caught.value.hint == Hint("force_delete", {"id": connection_id})
    assert service.connections.get(actor, connection_id)
    service.connections.delete(actor, connection_id, force=True)
    assert service.connections.list(actor).items == []


def test_flows_are_checked_against_apps_connections_and_projects(
    service: Service, actor: Actor, other_actor: Actor
) -> None:
    mine = _sendgrid(service, actor, "SendGrid")
    theirs = _sendgrid(service, other_actor, "SendGrid")
    cases = [
        (_step("a", theirs), "steps.0.connection", "not found"),
        (_step("a", mine, app="notion"), "steps.0.connection", "is a sendgrid connection"),
        (_step("a", app="nope"), "steps.0.app", "no app"),
    ]
    for step, field, says in cases:
        with pytest.raises(InvalidFields) as caught:
            service.flows.create(actor, name="Bad", definition={"steps": [step]})
        assert any(
            e["field"] == field and says in e["message"] for e in caught.value.details["errors"]
        )
    assert service.flows.list(actor) == []


def test_update_rename_and_delete_flows(service: Service, actor: Actor) -> None:
    first = _sendgrid(service, actor, "First")
    second = _sendgrid(service, actor, "Second")
    flow = service.flows.create(actor, name="Welcome", definition={"steps": [_step("m", first)]})
    service.flows.create(actor, name="Other", definition={"steps": [_step("m", first)]})
    with pytest.raises(DuplicateName):
        service.flows.update(actor, flow.id, name="other")
    changed = service.flows.update(
        actor, flow.id, name="Welcome v2", definition={"steps": [_step("m", second)]}
    )
    assert changed.name == "Welcome v2" and changed.version == 2
    assert [r.connection_id for r in changed.connections] == [second]
    assert service.connections.get(actor, first).flows == 1
    service.flows.delete(actor, flow.id)
    assert service.connections.get(actor, second).flows == 0

from __future__ import annotations

from typing import Any

import pytest

from gatekey.errors import ConnectionInUse, DuplicateName, InvalidFields
from gatekey.service import Actor, ConnectionService
from tests.fakes.providers import GOOD_SENDGRID


def _sendgrid(service: ConnectionService, actor: Actor, name: str) -> str:
    return service.create_connection(
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


def test_usage_by_id_and_as_the_default(service: ConnectionService, actor: Actor) -> None:
    default = _sendgrid(service, actor, "SendGrid - Prod")
    other = _sendgrid(service, actor, "SendGrid - Staging")
    welcome = service.create_flow(
        actor, name="Welcome", definition={"steps": [_step("mail"), _step("copy", other)]}
    )
    service.create_flow(actor, name="Digest", definition={"steps": [_step("send", other)]})

    usage = service.connection_usage(actor, default)
    assert [(u.flow_name, u.steps, u.by_default) for u in usage.flows] == [
        ("Welcome", ["mail"], True)
    ]
    assert {u.flow_name for u in service.connection_usage(actor, other).flows} == {
        "Welcome",
        "Digest",
    }
    counts = {c.name: c.flows for c in service.list_connections(actor).items}
    assert counts == {"SendGrid - Prod": 1, "SendGrid - Staging": 2}
    assert service.get_connection(actor, other).flows == 2
    assert [f.name for f in service.list_flows(actor, connection_id=default)] == ["Welcome"]
    refs = {(r.step_id, r.connection_id) for r in welcome.connections}
    assert refs == {("mail", None), ("copy", other)}

    # The default moves: so does the usage of the "default" step.
    service.set_default(actor, other)
    assert service.connection_usage(actor, default).flows == []
    assert service.get_connection(actor, other).flows == 2


def test_a_connection_in_use_is_not_deleted_unless_forced(
    service: ConnectionService, actor: Actor
) -> None:
    connection_id = _sendgrid(service, actor, "SendGrid")
    service.create_flow(actor, name="Welcome", definition={"steps": [_step("mail", connection_id)]})
    with pytest.raises(ConnectionInUse) as caught:
        service.delete_connection(actor, connection_id)
    assert caught.value.details["flows"] == ["Welcome"]
    assert "Welcome" in caught.value.message
    assert service.get_connection(actor, connection_id)
    service.delete_connection(actor, connection_id, force=True)
    assert service.list_connections(actor).items == []


def test_flows_are_checked_against_apps_connections_and_projects(
    service: ConnectionService, actor: Actor, other_actor: Actor
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
            service.create_flow(actor, name="Bad", definition={"steps": [step]})
        assert any(
            e["field"] == field and says in e["message"] for e in caught.value.details["errors"]
        )
    assert service.list_flows(actor) == []


def test_update_rename_and_delete_flows(service: ConnectionService, actor: Actor) -> None:
    first = _sendgrid(service, actor, "First")
    second = _sendgrid(service, actor, "Second")
    flow = service.create_flow(actor, name="Welcome", definition={"steps": [_step("m", first)]})
    service.create_flow(actor, name="Other", definition={"steps": [_step("m", first)]})
    with pytest.raises(DuplicateName):
        service.update_flow(actor, flow.id, name="other")
    changed = service.update_flow(
        actor, flow.id, name="Welcome v2", definition={"steps": [_step("m", second)]}
    )
    assert changed.name == "Welcome v2" and changed.version == 2
    assert [r.connection_id for r in changed.connections] == [second]
    assert service.get_connection(actor, first).flows == 1
    service.delete_flow(actor, flow.id)
    assert service.get_connection(actor, second).flows == 0

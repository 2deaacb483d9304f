"""The resolution's narrow read returns what the whole read does for the columns it has."""

from __future__ import annotations

from gatekey.service import Actor, ConnectionService
from gatekey.store.hot import HotRow, SecretRow


def test_the_hot_row_is_the_whole_row_narrowed(service: ConnectionService, actor: Actor) -> None:
    made = service.create_connection(
        actor,
        app="sendgrid",
        name="Hot",
        fields={"api_key": "SG.hot.canary"},
        validate=False,
    )
    whole = service.secrets.read(actor.project_id, made.id)
    hot = service.secrets.read_hot(actor.project_id, made.id)
    assert whole is not None and hot is not None
    assert set(HotRow._fields) < set(SecretRow._fields)
    assert hot == HotRow(*(getattr(whole, name) for name in HotRow._fields))
    assert "canary" not in repr(hot) and "SG." not in repr(hot)
    hot.config["changed"] = True  # parsed JSON is the caller's own copy
    again = service.secrets.read_hot(actor.project_id, made.id)
    assert again is not None and "changed" not in again.config


def test_the_hot_read_is_scoped_to_the_project(service: ConnectionService, actor: Actor) -> None:
    made = service.create_connection(
        actor, app="sendgrid", name="Scoped", fields={"api_key": "SG.scoped.value"}, validate=False
    )
    other = service.create_project("elsewhere")
    assert service.secrets.read_hot(other.id, made.id) is None
    assert service.secrets.read_hot(actor.project_id, "conn_" + "0" * 26) is None

"""``store.secret_reader``: the stamp, the row and the whole row read the same state, scoped by
project, with parsed JSON the caller's own copy."""

from __future__ import annotations

from gatekey.service import Actor, Service
from gatekey.store import connections as rows
from gatekey.store.secret_reader import Details, SecretRow
from gatekey.store.tables import connections
from tests.fakes.apps import acme


def test_the_three_reads_agree(service: Service, actor: Actor) -> None:
    made = service.connections.create(
        actor,
        app="sendgrid",
        name="Hot",
        fields={"api_key": "SG.hot.canary"},
        validate=False,
    )
    stamp = service.internals.secrets.stamp(actor.project_id, made.id)
    row = service.internals.secrets.read(actor.project_id, made.id)
    whole = service.internals.secrets.whole(actor.project_id, made.id)
    assert stamp is not None and row is not None and whole is not None
    assert whole[0] == row
    assert stamp == (row.version, row.secret_ciphertext, None)  # a catalog app: no app row
    details = whole[1]
    assert details.name == "Hot" and details.refresh_failures == 0
    assert set(SecretRow._fields).isdisjoint(Details._fields)
    every = {c.name for c in connections.c}
    assert set(SecretRow._fields) | set(Details._fields) <= every
    assert "canary" not in repr(row) and "SG." not in repr(row)
    row.config["changed"] = True  # parsed JSON is the caller's own copy
    again = service.internals.secrets.read(actor.project_id, made.id)
    assert again is not None and "changed" not in again.config


def test_every_change_moves_the_stamp(service: Service, actor: Actor) -> None:
    """What the resolver's cache relies on: a write through ``store.connections`` bumps the
    version (or writes a new ciphertext)."""
    made = service.connections.create(
        actor, app="sendgrid", name="Moves", fields={"api_key": "SG.a.b"}, validate=False
    )
    seen = {service.internals.secrets.stamp(actor.project_id, made.id)}
    service.connections.rename(actor, made.id, "Moved")
    seen.add(service.internals.secrets.stamp(actor.project_id, made.id))
    with service.context.db.write() as conn:
        rows.set_values(conn, actor.project_id, made.id, {"status": "inactive"})
    seen.add(service.internals.secrets.stamp(actor.project_id, made.id))
    service.connections.replace_credentials(
        actor, made.id, fields={"api_key": "SG.c.d"}, validate=False
    )
    seen.add(service.internals.secrets.stamp(actor.project_id, made.id))
    assert len(seen) == 4


def test_the_reads_are_scoped_to_the_project(service: Service, actor: Actor) -> None:
    made = service.connections.create(
        actor, app="sendgrid", name="Scoped", fields={"api_key": "SG.scoped.value"}, validate=False
    )
    other = service.system.create_project("elsewhere")
    missing = "conn_" + "0" * 26
    for read in (
        service.internals.secrets.stamp,
        service.internals.secrets.read,
        service.internals.secrets.whole,
    ):
        assert read(other.id, made.id) is None
        assert read(actor.project_id, missing) is None


def test_the_stamp_carries_the_project_apps_version(service: Service, actor: Actor) -> None:
    """A project's own app: its row's version is in the stamp, and moves when it is replaced."""
    service.apps.add(actor, acme())
    made = service.connections.create(
        actor, app="acme-crm", name="Own", fields={"api_key": "k" * 20}, validate=False
    )
    first = service.internals.secrets.stamp(actor.project_id, made.id)
    service.apps.replace(actor, "acme-crm", acme(name="Acme v2"))
    second = service.internals.secrets.stamp(actor.project_id, made.id)
    assert first is not None and second is not None
    assert first[:2] == second[:2] and first[2] is not None and second[2] == first[2] + 1

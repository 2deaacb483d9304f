"""The connection writer: one insert, status changes that emit exactly the event the status
machine names, the same clear error when the unique index refuses a name at the last moment."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from gatekey import ids
from gatekey.domain.connection import Change, Event, Status, StatusChange
from gatekey.errors import DuplicateName
from gatekey.service import Actor, Service
from gatekey.store import connections as rows
from gatekey.store.audit import Event as AuditEvent
from gatekey.store.connection_writer import ConnectionWriter, NewConnection
from gatekey.store.rows import ConnectionRow
from gatekey.store.tables import audit_events, connections, webhook_deliveries
from gatekey.store.webhooks import Outbox
from tests.fakes.races import miss_next_name_check

CANARY = "CANARYwriterSECRET01"


@pytest.fixture
def writer() -> ConnectionWriter:
    return ConnectionWriter(Outbox())


@pytest.fixture
def hooked(service: Service, actor: Actor) -> Actor:
    """The project with an endpoint that wants every event."""
    service.webhooks.add(actor, url="https://hooks.example.test/in")
    return actor


def _new(service: Service, actor: Actor, name: str, **extra: Any) -> NewConnection:
    connection_id = ids.new_id("conn")
    return NewConnection(
        id=connection_id,
        project_id=actor.project_id,
        app_key="sendgrid",
        auth_kind="api_key",
        name=name,
        sealed=service.context.vault.seal(actor.project_id, connection_id, {"api_key": CANARY}),
        **extra,
    )


def _audit(service: Service, actor: Actor, action: str, cid: str) -> AuditEvent:
    return AuditEvent(
        service.context.now(), actor.project_id, actor.key_id, action, "connection", cid
    )


def _insert(service: Service, writer: ConnectionWriter, new: NewConnection) -> bool:
    audit = AuditEvent(
        service.context.now(), new.project_id, "operator", "test.insert", "connection", new.id
    )
    with service.context.db.write() as conn:
        return writer.insert(conn, new, audit, service.context.now())


def _events(service: Service) -> list[tuple[str, str, dict[str, Any]]]:
    """(event id, type, connection payload) of every event queued, one entry per event."""
    with service.context.db.read() as conn:
        found = conn.execute(
            select(
                webhook_deliveries.c.event_id,
                webhook_deliveries.c.event_type,
                webhook_deliveries.c.body,
            ).order_by(webhook_deliveries.c.id)
        ).all()
    seen: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for event_id, event_type, body in found:
        seen[event_id] = (event_id, event_type, json.loads(body)["data"].get("connection", {}))
    return list(seen.values())


def _row(service: Service, actor: Actor, cid: str) -> ConnectionRow:
    with service.context.db.read() as conn:
        found = rows.get(conn, actor.project_id, cid)
    assert found is not None
    return found


def _count(service: Service, table: Any) -> int:
    with service.context.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def racing(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to make the next name check miss the name (``tests.fakes.races``)."""
    return lambda: miss_next_name_check(monkeypatch)


def test_an_insert_writes_the_row_its_audit_and_one_created_event(
    service: Service, hooked: Actor, writer: ConnectionWriter
) -> None:
    new = _new(service, hooked, "Mail", meta={"team": "ops"}, config={"region": "eu"})
    assert _insert(service, writer, new) is True, "the app's first connection is its default"
    row = _row(service, hooked, new.id)
    assert (row.status, row.status_reason, row.status_message) == ("active", None, None)
    assert (row.name, row.name_key, row.is_default, row.version) == ("Mail", "mail", True, 1)
    assert (row.meta, row.config, row.scopes) == ({"team": "ops"}, {"region": "eu"}, [])
    secret = service.internals.secrets.read(hooked.project_id, new.id)
    assert secret is not None and secret.kek_id == new.sealed.key_id
    (event,) = _events(service)
    assert event[1:] == (
        "connection.created",
        {
            "id": new.id,
            "project_id": hooked.project_id,
            "app": "sendgrid",
            "auth_kind": "api_key",
            "name": "Mail",
            "status": "active",
            "status_reason": None,
            "account_label": None,
        },
    )
    assert CANARY not in repr(new) and CANARY not in repr(row)
    trail = service.connections.audit_trail(hooked, new.id)
    assert [(e.action, e.detail) for e in trail] == [("test.insert", {"default": True})]


def test_the_default_moves_only_when_asked(
    service: Service, actor: Actor, writer: ConnectionWriter
) -> None:
    first, second, third = (_new(service, actor, n) for n in ("A", "B", "C"))
    assert _insert(service, writer, first) is True
    assert _insert(service, writer, second) is False
    assert _insert(service, writer, third) is False
    fourth = _new(service, actor, "D", is_default=True)
    assert _insert(service, writer, fourth) is True
    defaults = [c for c in (first, second, third, fourth) if _row(service, actor, c.id).is_default]
    assert defaults == [fourth]


def test_a_taken_name_is_refused_whatever_its_case_and_nothing_is_written(
    service: Service, hooked: Actor, writer: ConnectionWriter
) -> None:
    _insert(service, writer, _new(service, hooked, "Mail"))
    before = (_count(service, connections), len(_events(service)))
    with pytest.raises(DuplicateName, match="'MAIL' already exists"):
        _insert(service, writer, _new(service, hooked, "MAIL"))
    assert (_count(service, connections), len(_events(service))) == before


def test_a_name_taken_after_the_check_gives_the_same_error_and_writes_nothing(
    service: Service,
    hooked: Actor,
    writer: ConnectionWriter,
    racing: Callable[[], None],
) -> None:
    _insert(service, writer, _new(service, hooked, "Mail"))
    before = (_count(service, connections), _count(service, audit_events), len(_events(service)))
    racing()
    with pytest.raises(DuplicateName, match="'mail' already exists") as refused:
        _insert(service, writer, _new(service, hooked, "mail"))
    assert refused.value.code == "duplicate_name"
    after = (_count(service, connections), _count(service, audit_events), len(_events(service)))
    assert after == before


def test_a_rename_taken_after_the_check_gives_the_same_error(
    service: Service,
    actor: Actor,
    writer: ConnectionWriter,
    racing: Callable[[], None],
) -> None:
    _insert(service, writer, _new(service, actor, "Mail"))
    other = _new(service, actor, "Other")
    _insert(service, writer, other)
    racing()

    def rename() -> None:
        with service.context.db.write() as conn:
            writer.check_name(conn, actor.project_id, "MAIL", except_id=other.id)  # misses it
            writer.update(
                conn,
                actor.project_id,
                other.id,
                {"name": "MAIL"},
                service.context.now(),
                _audit(service, actor, "connection.update", other.id),
            )

    with pytest.raises(DuplicateName):
        rename()
    assert _row(service, actor, other.id).name == "Other"


def test_each_status_change_emits_exactly_the_event_the_machine_names(
    service: Service, hooked: Actor, writer: ConnectionWriter
) -> None:
    new = _new(service, hooked, "Mail")
    _insert(service, writer, new)
    steps: list[tuple[Change, str | None, Event | None]] = [
        (Change.TEST_PASSED, None, None),
        (Change.CREDENTIALS_REFUSED, "401 from the app", Event.INACTIVE),
        (Change.CREDENTIALS_REFUSED, "401 again", None),
        (Change.TEST_PASSED, None, Event.RECOVERED),
        (Change.GRANT_REVOKED, "revoked", Event.INACTIVE),
        (Change.RECONNECTED, None, Event.RECONNECTED),
        (Change.CREDENTIALS_REPLACED, None, None),
        (Change.REFRESH_FAILED, "invalid_grant", Event.INACTIVE),
        (Change.CREDENTIALS_REPLACED, None, Event.RECOVERED),
    ]
    version = 1
    for change, message, expected in steps:
        before = len(_events(service))
        with service.context.db.write() as conn:
            outcome = writer.set_status(
                conn, hooked.project_id, new.id, change, service.context.now(), message=message
            )
        assert outcome is not None and outcome.event is expected, change
        events = _events(service)[before:]
        assert [e[1] for e in events] == ([expected.value] if expected else []), change
        row = _row(service, hooked, new.id)
        assert (row.status, row.status_message) == (outcome.status.value, message)
        assert row.version == version + 1, "every write moves the version (caches key on it)"
        version = row.version
        if events:
            assert events[0][2]["status"] == row.status, "the event says the new state"
            assert events[0][2]["status_reason"] == row.status_reason


def test_status_changes_write_their_values_secret_and_audit_in_one_go(
    service: Service, actor: Actor, writer: ConnectionWriter
) -> None:
    new = _new(service, actor, "Mail")
    _insert(service, writer, new)
    box = service.context.vault.seal(actor.project_id, new.id, {"api_key": "SG.new.one"})
    with service.context.db.write() as conn:
        writer.set_status(
            conn,
            actor.project_id,
            new.id,
            Change.RECONNECTED,
            service.context.now(),
            values={"name": "Renamed", "account_label": "ada@example.com"},
            sealed=box,
            audit=_audit(service, actor, "connection.reconnect", new.id),
        )
    row = _row(service, actor, new.id)
    assert (row.name, row.name_key, row.account_label) == ("Renamed", "renamed", "ada@example.com")
    secret = service.internals.secrets.read(actor.project_id, new.id)
    assert secret is not None and secret.secret_ciphertext == box.ciphertext
    assert service.connections.audit_trail(actor, new.id)[0].action == "connection.reconnect"
    with pytest.raises(ValueError, match="status"), service.context.db.write() as conn:
        writer.set_status(
            conn,
            actor.project_id,
            new.id,
            Change.TEST_PASSED,
            service.context.now(),
            values={"status": "x"},
        )
    with pytest.raises(ValueError, match="secret_ciphertext"), service.context.db.write() as conn:
        writer.update(
            conn,
            actor.project_id,
            new.id,
            {"secret_ciphertext": b"x"},
            service.context.now(),
            _audit(service, actor, "connection.update", new.id),
        )


def test_a_gone_row_or_a_lost_lease_writes_nothing(
    service: Service, hooked: Actor, writer: ConnectionWriter
) -> None:
    missing = ids.new_id("conn")
    with service.context.db.write() as conn:
        assert (
            writer.set_status(
                conn, hooked.project_id, missing, Change.TEST_PASSED, service.context.now()
            )
            is None
        )
    new = _new(service, hooked, "Mail")
    _insert(service, writer, new)
    now = service.context.now()
    with service.context.db.write() as conn:
        assert rows.claim_refresh(
            conn, new.id, version=1, owner="holder", until=now.replace(year=now.year + 1), now=now
        )
    events = len(_events(service))

    def revoke(owner: str) -> StatusChange | None:
        with service.context.db.write() as conn:
            return writer.set_status(
                conn,
                hooked.project_id,
                new.id,
                Change.GRANT_REVOKED,
                now,
                message="revoked",
                lease_owner=owner,
                audit=_audit(service, hooked, "connection.deactivate", new.id),
            )

    assert revoke("someone-else") is None
    assert _row(service, hooked, new.id).status == "active"
    assert len(_events(service)) == events
    assert "connection.deactivate" not in [
        e.action for e in service.connections.audit_trail(hooked, new.id)
    ]
    held = revoke("holder")
    assert held is not None and held.status is Status.INACTIVE
    row = _row(service, hooked, new.id)
    assert (row.status_reason, row.refresh_lease_owner, row.refresh_lease_until) == (
        "revoked",
        None,
        None,
    )
    assert [e[1] for e in _events(service)[events:]] == ["connection.inactive"]


def test_a_delete_emits_what_the_connection_was(
    service: Service, hooked: Actor, writer: ConnectionWriter
) -> None:
    new = _new(service, hooked, "Mail")
    _insert(service, writer, new)
    row = _row(service, hooked, new.id)
    audit = _audit(service, hooked, "connection.delete", new.id)
    with service.context.db.write() as conn:
        assert writer.delete(conn, row, service.context.now(), audit) is True
    with service.context.db.write() as conn:
        assert writer.delete(conn, row, service.context.now(), audit) is False
    deleted = [e for e in _events(service) if e[1] == "connection.deleted"]
    assert len(deleted) == 1 and deleted[0][2]["id"] == new.id
    assert deleted[0][2]["status"] == "active"
    assert _count(service, connections) == 0

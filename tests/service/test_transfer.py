"""Export and import: sealed by default, plaintext on request, OAuth tokens carried over."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from gatekey.errors import DecryptionFailed, InvalidInput
from gatekey.service import Actor, Service
from gatekey.store.tables import webhook_deliveries
from tests.fakes.providers import GOOD_SENDGRID
from tests.fakes.races import miss_next_name_check
from tests.fakes.sandbox import CLIENT_ID, CLIENT_SECRET, Sandbox, connect

PASSPHRASE = "correct horse battery staple"


def test_sealed_export_round_trip(service: Service, actor: Actor, other_actor: Actor) -> None:
    service.connections.create(
        actor, app="sendgrid", name="SendGrid", fields={"api_key": GOOD_SENDGRID}, validate=False
    )
    with pytest.raises(InvalidInput, match="passphrase"):
        service.transfer.export_connections(actor)
    document = service.transfer.export_connections(actor, passphrase=PASSPHRASE)
    text = json.dumps(document)
    assert GOOD_SENDGRID not in text and "CANARY" not in text
    with pytest.raises(DecryptionFailed):
        service.transfer.import_connections(other_actor, document, passphrase="wrong passphrase!!")
    result = service.transfer.import_connections(
        other_actor, json.loads(text), passphrase=PASSPHRASE
    )
    assert len(result.created) == 1 and result.skipped == []
    imported = service.credentials.resolve(other_actor, result.created[0])
    assert imported.fields["api_key"] == GOOD_SENDGRID
    assert service.connections.get(other_actor, result.created[0]).verified_at is None
    again = service.transfer.import_connections(other_actor, document, passphrase=PASSPHRASE)
    assert again.created == [] and again.skipped[0]["code"] == "duplicate_name"


def test_tampered_entries_do_not_decrypt(
    service: Service, actor: Actor, other_actor: Actor
) -> None:
    for name in ("A", "B"):
        service.connections.create(
            actor, app="sendgrid", name=name, fields={"api_key": GOOD_SENDGRID}, validate=False
        )
    document = service.transfer.export_connections(actor, passphrase=PASSPHRASE)
    first, second = document["connections"]
    first["secret"], second["secret"] = second["secret"], first["secret"]
    result = service.transfer.import_connections(other_actor, document, passphrase=PASSPHRASE)
    assert result.created == []
    assert {s["code"] for s in result.skipped} == {"decryption_failed"}


def test_oauth_tokens_move_without_reauthorizing(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    service = oauth_service
    connect(service, oauth_actor, sandbox)
    document = service.transfer.export_connections(oauth_actor, plaintext=True)
    (entry,) = document["connections"]
    assert entry["secret"]["plaintext"]["refresh_token"].startswith("sbx_rt_")
    other = Actor.operator(service.system.create_project("moved").id)
    service.oauth_clients.register(
        other, app="sandbox", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    result = service.transfer.import_connections(other, document)
    (moved,) = result.created
    connection = service.connections.get(other, moved)
    assert connection.status == "active" and connection.account_label == "ada@example.com"
    stale = service.credentials.resolve(other, moved).fields["access_token"]
    fresh = service.credentials.resolve(other, moved, stale_token=stale)
    assert fresh.fields["access_token"] != stale, "the imported refresh token works"


def _oauth_document(name: str) -> dict[str, Any]:
    return {
        "format": "gatekey-export/1",
        "encryption": None,
        "connections": [
            {
                "app": "asana",
                "auth_kind": "oauth2",
                "name": name,
                "scopes": ["tasks:read"],
                "secret": {"plaintext": {"access_token": "CANARYimportTOKEN01"}},
            }
        ],
    }


def _written(service: Service, actor: Actor) -> tuple[int, int, list[str]]:
    """Connections and queued events of the project, and its audited import actions."""
    with service.context.db.read() as conn:
        deliveries = conn.execute(select(func.count()).select_from(webhook_deliveries)).scalar()
    trail = [f"{e.action}:{e.outcome}" for e in service.connections.audit_trail(actor)]
    count = len(service.connections.list(actor).items)
    return count, int(deliveries or 0), [t for t in trail if t.startswith("connection.import:ok")]


def test_an_oauth_import_colliding_with_a_name_is_skipped_with_the_stable_error(
    service: Service, actor: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked before the write, or refused by the unique index when another writer took the
    name since the check: the same ``duplicate_name``, and nothing written either way."""
    service.oauth_clients.register(actor, app="asana", client_id="gk", client_secret="CANARYcs01")
    service.webhooks.add(actor, url="https://hooks.example.test/in")
    first = service.transfer.import_connections(actor, _oauth_document("Asana"))
    assert len(first.created) == 1 and first.skipped == []
    before = _written(service, actor)
    assert before[1] == 1, "one connection.created event"
    again = service.transfer.import_connections(actor, _oauth_document("ASANA"))
    miss_next_name_check(monkeypatch)
    raced = service.transfer.import_connections(actor, _oauth_document("asana"))
    for result, name in ((again, "ASANA"), (raced, "asana")):
        assert result.created == []
        assert result.skipped == [
            {
                "name": name,
                "code": "duplicate_name",
                "message": f"a connection named {name!r} already exists",
            }
        ]
    assert _written(service, actor) == before


def test_an_export_says_when_each_connection_was_verified_and_an_import_checks_nothing(
    service: Service, actor: Actor, other_actor: Actor
) -> None:
    checked = service.connections.create(
        actor, app="sendgrid", name="Checked", fields={"api_key": GOOD_SENDGRID}
    )
    service.connections.create(
        actor, app="sendgrid", name="Unchecked", fields={"api_key": GOOD_SENDGRID}, validate=False
    )
    document = service.transfer.export_connections(actor, plaintext=True)
    said = {e["name"]: e["verified_at"] for e in document["connections"]}
    assert checked.verified_at is not None
    assert said == {"Checked": checked.verified_at.isoformat(), "Unchecked": None}

    result = service.transfer.import_connections(other_actor, document)
    imported = [service.connections.get(other_actor, i) for i in result.created]
    assert [c.verified_at for c in imported] == [None, None]

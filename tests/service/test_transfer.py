"""Export and import: sealed by default, plaintext on request, OAuth tokens carried over."""

from __future__ import annotations

import json

import pytest

from gatekey.errors import DecryptionFailed, InvalidInput
from gatekey.service import Actor, ConnectionService
from tests.fakes.providers import GOOD_SENDGRID
from tests.fakes.sandbox import CLIENT_ID, CLIENT_SECRET, Sandbox, connect

PASSPHRASE = "correct horse battery staple"


def test_sealed_export_round_trip(
    service: ConnectionService, actor: Actor, other_actor: Actor
) -> None:
    service.create_connection(
        actor, app="sendgrid", name="SendGrid", fields={"api_key": GOOD_SENDGRID}, validate=False
    )
    with pytest.raises(InvalidInput, match="passphrase"):
        service.export_connections(actor)
    document = service.export_connections(actor, passphrase=PASSPHRASE)
    text = json.dumps(document)
    assert GOOD_SENDGRID not in text and "CANARY" not in text
    with pytest.raises(DecryptionFailed):
        service.import_connections(other_actor, document, passphrase="wrong passphrase!!")
    result = service.import_connections(other_actor, json.loads(text), passphrase=PASSPHRASE)
    assert len(result.created) == 1 and result.skipped == []
    imported = service.resolve_credentials(other_actor, result.created[0])
    assert imported.fields["api_key"] == GOOD_SENDGRID
    again = service.import_connections(other_actor, document, passphrase=PASSPHRASE)
    assert again.created == [] and again.skipped[0]["code"] == "duplicate_name"


def test_tampered_entries_do_not_decrypt(
    service: ConnectionService, actor: Actor, other_actor: Actor
) -> None:
    for name in ("A", "B"):
        service.create_connection(
            actor, app="sendgrid", name=name, fields={"api_key": GOOD_SENDGRID}, validate=False
        )
    document = service.export_connections(actor, passphrase=PASSPHRASE)
    first, second = document["connections"]
    first["secret"], second["secret"] = second["secret"], first["secret"]
    result = service.import_connections(other_actor, document, passphrase=PASSPHRASE)
    assert result.created == []
    assert {s["code"] for s in result.skipped} == {"decryption_failed"}


def test_oauth_tokens_move_without_reauthorizing(
    oauth_service: ConnectionService, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    service = oauth_service
    connect(service, oauth_actor, sandbox)
    document = service.export_connections(oauth_actor, plaintext=True)
    (entry,) = document["connections"]
    assert entry["secret"]["plaintext"]["refresh_token"].startswith("sbx_rt_")
    other = Actor.operator(service.create_project("moved").id)
    service.register_oauth_client(
        other, app="sandbox", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    result = service.import_connections(other, document)
    (moved,) = result.created
    connection = service.get_connection(other, moved)
    assert connection.status == "active" and connection.account_label == "ada@example.com"
    stale = service.resolve_credentials(other, moved).fields["access_token"]
    fresh = service.resolve_credentials(other, moved, stale_token=stale)
    assert fresh.fields["access_token"] != stale, "the imported refresh token works"

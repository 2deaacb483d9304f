"""``service.views``: the records the service hands out. A session still pending (or being
exchanged) past its expiry reads as failed with ``oauth_session_expired``, while a finished one
keeps its outcome; a reconnection says so; a connection shows its public fields, masks its
secret ones and counts the flows that use it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from gatekey.service import Actor, Service
from gatekey.store.tables import oauth_sessions
from tests.fakes.providers import GOOD_TWILIO_TOKEN, TWILIO_SID, twilio_connection
from tests.fakes.sandbox import Sandbox, connect


def _github_session(service: Service, actor: Actor) -> str:
    service.oauth_clients.register(actor, app="github", client_id="gh", client_secret="gh-secret")
    return service.authorizations.start(actor, app="github").id


def _later(service: Service, delta: timedelta) -> None:
    real = service.context.clock
    service.context.clock = lambda: real() + delta


def _set(service: Service, session_id: str, **values: Any) -> None:
    with service.context.db.write() as conn:
        conn.execute(update(oauth_sessions).where(oauth_sessions.c.id == session_id).values(values))


def test_a_pending_session_past_its_expiry_reads_as_expired(service: Service, actor: Actor) -> None:
    session_id = _github_session(service, actor)
    waiting = service.authorizations.status(actor, session_id)
    assert (waiting.status, waiting.error_code, waiting.authorize_url) == ("pending", None, None)
    assert (waiting.app, waiting.reconnect, waiting.connection_id) == ("github", False, None)

    _later(service, timedelta(minutes=10))  # at its expiry exactly
    late = service.authorizations.status(actor, session_id)
    assert (late.status, late.error_code) == ("failed", "oauth_session_expired")
    assert late.error_message == "the authorization took longer than allowed; start again"
    assert late.expires_at == waiting.expires_at


def test_a_session_being_exchanged_reads_as_pending_until_its_expiry(
    service: Service, actor: Actor
) -> None:
    session_id = _github_session(service, actor)
    _set(service, session_id, status="exchanging")
    assert service.authorizations.status(actor, session_id).status == "pending"
    _later(service, timedelta(minutes=11))
    late = service.authorizations.status(actor, session_id)
    assert (late.status, late.error_code) == ("failed", "oauth_session_expired")


def test_a_finished_session_keeps_its_outcome_past_its_expiry(
    service: Service, actor: Actor
) -> None:
    session_id = _github_session(service, actor)
    _set(
        service,
        session_id,
        status="failed",
        error_code="oauth_access_denied",
        error_message="the person declined",
    )
    _later(service, timedelta(hours=1))
    done = service.authorizations.status(actor, session_id)
    assert (done.status, done.error_code, done.error_message) == (
        "failed",
        "oauth_access_denied",
        "the person declined",
    )


def test_a_reconnection_names_its_connection(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    again = oauth_service.authorizations.start(oauth_actor, connection_id=connection_id)
    assert again.authorize_url is not None
    status = oauth_service.authorizations.status(oauth_actor, again.id)
    assert (status.reconnect, status.connection_id, status.app) == (True, connection_id, "sandbox")
    outcome = oauth_service.system.complete_authorization(sandbox.consent(again.authorize_url))
    assert (outcome.status, outcome.connection_id, outcome.reconnect) == (
        "succeeded",
        connection_id,
        True,
    )


def test_a_connection_shows_public_fields_masks_secrets_and_counts_its_flows(
    service: Service, actor: Actor
) -> None:
    made = twilio_connection(service, actor, metadata={"team": "ops"})
    assert made.fields == {"account_sid": TWILIO_SID, "auth_token": "••••0003"}
    assert made.flows == 0 and made.metadata == {"team": "ops"}
    step = {"id": "s", "app": "twilio", "connection": made.id, "type": "http"}
    for name in ("One", "Two"):
        service.flows.create(
            actor, name=name, definition={"steps": [{**step, "http": {"path": "/x"}}]}
        )

    got = service.connections.get(actor, made.id)
    (listed,) = service.connections.list(actor).items
    assert got.flows == listed.flows == 2
    assert (got.app, got.auth_kind, got.status, got.is_default) == (
        "twilio",
        "basic",
        "active",
        True,
    )
    for record in (made, got, listed):
        assert GOOD_TWILIO_TOKEN not in repr(record) + record.model_dump_json()

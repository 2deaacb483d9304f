"""The authorization-code flow against the sandbox: connect, reconnect, and every refusal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from gatekey.errors import DuplicateName, OAuthClientMissing, StateInvalid
from gatekey.service import Actor, Service
from tests.fakes.races import miss_next_name_check
from tests.fakes.sandbox import Sandbox, connect


def _count(service: Service, actor: Actor) -> int:
    return len(service.connections.list(actor).items)


def test_connect_stores_tokens_and_learns_the_account(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Sandbox - Ada")
    assert session.status == "pending"
    assert session.expires_at - session.created_at == timedelta(minutes=10)
    url = session.authorize_url or ""
    assert "code_challenge_method=S256" in url and "code_challenge=" in url
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A8040%2Foauth%2Fcallback" in url

    outcome = oauth_service.system.complete_authorization(sandbox.consent(url))

    assert outcome.status == "succeeded"
    assert oauth_service.authorizations.status(oauth_actor, session.id).status == "succeeded"
    connection = oauth_service.connections.get(oauth_actor, outcome.connection_id or "")
    assert connection.status == "active"
    assert connection.auth_kind == "oauth2"
    assert connection.account_label == "ada@example.com"
    assert connection.scopes == ["profile", "tasks.read"]
    assert connection.expires_at is not None
    assert connection.oauth_client_id is not None
    credentials = oauth_service.credentials.resolve(oauth_actor, connection.id)
    assert set(credentials.fields) == {"access_token", "token_type"}
    assert credentials.headers["Authorization"] == "Bearer " + credentials.fields["access_token"]
    assert credentials.token_type == "Bearer"
    assert credentials.expired_token_status == [401]
    dumped = credentials.model_dump_json() + connection.model_dump_json()
    assert "sbx_rt_" not in dumped and "CANARY" not in dumped


def test_reconnect_keeps_the_id_name_and_client(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    before = oauth_service.connections.get(oauth_actor, connection_id)

    session = oauth_service.authorizations.start(oauth_actor, connection_id=connection_id)
    outcome = oauth_service.system.complete_authorization(
        sandbox.consent(session.authorize_url or "", user="grace@example.com")
    )

    assert outcome.status == "succeeded" and outcome.connection_id == connection_id
    after = oauth_service.connections.get(oauth_actor, connection_id)
    assert after.name == before.name
    assert after.oauth_client_id == before.oauth_client_id
    assert after.account_label == "grace@example.com"
    assert after.version > before.version
    assert _count(oauth_service, oauth_actor) == 1


def test_denied_consent_fails_plainly_and_stores_nothing(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Denied")
    outcome = oauth_service.system.complete_authorization(
        sandbox.consent(session.authorize_url or "", approve=False)
    )
    assert outcome.status == "failed"
    assert outcome.error_code == "oauth_access_denied"
    assert "denied" in (outcome.error_message or "")
    assert _count(oauth_service, oauth_actor) == 0


def test_replayed_state_is_refused_once_used(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Once")
    params = sandbox.consent(session.authorize_url or "")
    assert oauth_service.system.complete_authorization(params).status == "succeeded"
    with pytest.raises(StateInvalid, match="used already"):
        oauth_service.system.complete_authorization(params)
    assert _count(oauth_service, oauth_actor) == 1


@pytest.mark.parametrize("state", ["", "forged-state-value", "x" * 600])
def test_forged_state_is_refused(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox, state: str
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Forged")
    params = sandbox.consent(session.authorize_url or "")
    with pytest.raises(StateInvalid):
        oauth_service.system.complete_authorization({**params, "state": state})
    assert _count(oauth_service, oauth_actor) == 0
    assert oauth_service.authorizations.status(oauth_actor, session.id).status == "pending"


def test_expired_session_stores_nothing(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Late")
    params = sandbox.consent(session.authorize_url or "")
    real = oauth_service.context.clock
    oauth_service.context.clock = lambda: real() + timedelta(minutes=11)
    outcome = oauth_service.system.complete_authorization(params)
    assert outcome.status == "failed" and outcome.error_code == "oauth_session_expired"
    assert _count(oauth_service, oauth_actor) == 0


def test_code_of_another_session_fails_pkce(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    first = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="First")
    second = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Second")
    first_params = sandbox.consent(first.authorize_url or "")
    second_params = sandbox.consent(second.authorize_url or "")
    mixed = {**first_params, "code": second_params["code"]}
    outcome = oauth_service.system.complete_authorization(mixed)
    assert outcome.status == "failed"
    assert outcome.error_code == "oauth_token_exchange_failed"
    assert "PKCE" in (outcome.error_message or "")
    assert _count(oauth_service, oauth_actor) == 0


def test_issuer_mismatch_is_refused(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Mixup")
    params = sandbox.consent(session.authorize_url or "")
    assert params["iss"] == sandbox.url
    before = sandbox.token_requests()
    outcome = oauth_service.system.complete_authorization(
        {**params, "iss": "https://attacker.example"}
    )
    assert outcome.error_code == "oauth_issuer_mismatch"
    assert sandbox.token_requests() == before, "the code must not be sent anywhere"
    assert _count(oauth_service, oauth_actor) == 0


def test_start_needs_a_registered_client_and_a_free_name(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    other = Actor.operator(oauth_service.system.create_project("no-clients").id)
    with pytest.raises(OAuthClientMissing):
        oauth_service.authorizations.start(other, app="sandbox", name="x")
    connect(oauth_service, oauth_actor, sandbox, name="Taken")
    with pytest.raises(DuplicateName):
        oauth_service.authorizations.start(oauth_actor, app="sandbox", name="taken")


def test_name_taken_while_consenting_fails_the_session(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Race")
    params = sandbox.consent(session.authorize_url or "")
    connect(oauth_service, oauth_actor, sandbox, name="Race")
    outcome = oauth_service.system.complete_authorization(params)
    assert outcome.error_code == "duplicate_name"
    assert _count(oauth_service, oauth_actor) == 1


def test_name_taken_between_the_check_and_the_insert_fails_the_session_alike(
    oauth_service: Service,
    oauth_actor: Actor,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The unique index refusing the insert is the same ``duplicate_name``, not a failure
    "on our side"."""
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Race")
    params = sandbox.consent(session.authorize_url or "")
    connect(oauth_service, oauth_actor, sandbox, name="Race")
    miss_next_name_check(monkeypatch)
    outcome = oauth_service.system.complete_authorization(params)
    assert (outcome.status, outcome.error_code) == ("failed", "duplicate_name")
    assert outcome.error_message == "a connection named 'Race' already exists"
    assert _count(oauth_service, oauth_actor) == 1


def _session_rows(service: Service) -> list[Any]:
    from sqlalchemy import select

    from gatekey.store.tables import oauth_sessions

    with service.context.db.read() as conn:
        return list(conn.execute(select(oauth_sessions)).all())


def test_state_and_verifier_are_not_stored_in_clear(
    oauth_service: Service, oauth_actor: Actor
) -> None:
    session = oauth_service.authorizations.start(oauth_actor, app="sandbox", name="Stored")
    url = session.authorize_url or ""
    state = dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&"))["state"]
    (row,) = _session_rows(oauth_service)
    assert state not in repr(tuple(row))
    assert row.state_hash != state

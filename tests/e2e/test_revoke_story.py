"""The demo's revoke story against the sandbox: after ``POST /sandbox/control/revoke``, each
thing a person does next (resolve credentials for an execution, press Test, run a flow) ends
with the connection Inactive, reason revoked, and the error saying to reconnect."""

from __future__ import annotations

import pytest

from gatekey.errors import ConnectionInactive, Hint
from gatekey.service import Actor, Service
from gatekey.workflows.engine import Engine
from tests.fakes.sandbox import Sandbox, connect

ME = {"id": "me", "app": "sandbox", "type": "http", "http": {"path": "/api/me"}}


def _revoked(service: Service, actor: Actor, connection_id: str) -> None:
    """The connection reads as people should see it after the revoke."""
    connection = service.connections.get(actor, connection_id)
    assert connection.status == "inactive"
    assert connection.status_reason == "revoked"
    with pytest.raises(ConnectionInactive) as caught:
        service.credentials.resolve(actor, connection_id)
    assert caught.value.hint == Hint("reconnect", {"id": connection_id, "app": "sandbox"})
    assert caught.value.message.endswith("; reconnect it")


def test_resolving_hands_out_the_token_in_date_and_its_refusal_finds_the_revoke(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    sandbox.control("revoke")

    handed = oauth_service.credentials.resolve(oauth_actor, connection_id)
    token = handed.fields["access_token"]  # Gatekey cannot know yet: nobody has used it
    with pytest.raises(ConnectionInactive) as caught:  # the app said 401: sent back as stale
        oauth_service.credentials.resolve(oauth_actor, connection_id, stale_token=token)

    assert "no longer valid" in caught.value.message
    assert sandbox.token_requests("refresh_token") == 1
    _revoked(oauth_service, oauth_actor, connection_id)


def test_test_refreshes_once_before_deciding_so_a_revoke_reads_revoked(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    sandbox.control("revoke")

    result = oauth_service.connections.test(oauth_actor, connection_id)

    assert not result.ok
    assert "no longer valid" in result.message and "invalid or expired" not in result.message
    assert sandbox.token_requests("refresh_token") == 1
    _revoked(oauth_service, oauth_actor, connection_id)
    again = oauth_service.connections.test(oauth_actor, connection_id)
    assert not again.ok and again.message.endswith("; reconnect it")
    assert oauth_service.connections.get(oauth_actor, connection_id).status_reason == "revoked"


def test_test_of_a_token_the_provider_forgot_refreshes_and_passes(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    """The same one refresh heals a token the app refuses while the grant still holds."""
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    sandbox.state.access.clear()

    result = oauth_service.connections.test(oauth_actor, connection_id)

    assert result.ok, result.message
    assert sandbox.token_requests("refresh_token") == 1
    assert oauth_service.connections.get(oauth_actor, connection_id).status == "active"


def test_a_run_fails_naming_the_connection_and_leaves_it_revoked(
    oauth_service: Service, oauth_engine: Engine, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    flow = oauth_service.flows.create(oauth_actor, name="Who am I", definition={"steps": [ME]})
    sandbox.control("revoke")

    run_id = oauth_service.runs.trigger(oauth_actor, flow.id).id
    oauth_engine.work_once("w1")

    run = oauth_service.runs.get(oauth_actor, run_id)
    assert run.status == "failed" and run.error_code == "connection_inactive"
    assert run.failed_connection_id == connection_id and run.failed_step == "me"
    assert "reconnect it" in (run.error_message or "")
    _revoked(oauth_service, oauth_actor, connection_id)

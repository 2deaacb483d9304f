"""Testing a connection (``service/connection_tests.py``); the revoke story's Test, refreshed
once before deciding, is in ``tests/e2e/test_revoke_story.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes.providers import FakeProviders
from tests.fakes.slack import FIRST_TOKEN, SlackWorld, slack_world


def test_an_app_without_a_test_request_is_never_verified_by_a_test(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    created = service.connections.create(
        actor,
        app="custom-http",
        name="Internal API",
        fields={"header_value": "Bearer CANARYcustomSECRET0004"},
        config={"base_url": "https://internal.example.com", "header_name": "Authorization"},
    )
    result = service.connections.test(actor, created.id)
    assert result.ok and "no test request" in result.message
    assert created.verified_at is None
    assert service.connections.get(actor, created.id).verified_at is None
    assert providers.requests == []


@pytest.fixture
def world(settings: Settings) -> Iterator[SlackWorld]:
    with slack_world(settings) as opened:
        yield opened


def test_a_token_the_body_calls_expired_is_refreshed_once_and_the_test_passes(
    world: SlackWorld,
) -> None:
    """Slack says ``token_expired`` on an HTTP 200: Test refreshes, as it does on a 401."""
    service, actor = world.runtime.service, world.actor
    world.slack.expire(FIRST_TOKEN)
    result = service.connections.test(actor, world.connection_id)
    assert (result.ok, result.account_label, world.slack.refreshes) == (True, "Acme", 1)
    connection = service.connections.get(actor, world.connection_id)
    assert connection.status == "active" and connection.verified_at is not None
    sent = service.credentials.resolve(actor, world.connection_id).fields["access_token"]
    assert sent != FIRST_TOKEN and sent in world.slack.live


def test_credentials_the_body_refuses_are_refused_in_the_providers_words(
    world: SlackWorld,
) -> None:
    """HTTP 200 ``{"ok": false, "error": "invalid_auth"}`` never reads as accepted: the one
    refresh gets a token Slack refuses too, and the connection reads why."""
    service, actor = world.runtime.service, world.actor
    world.slack.live.clear()
    world.slack.issue_as = "refused"
    result = service.connections.test(actor, world.connection_id)
    assert not result.ok
    assert result.message == "Slack rejected the credentials: invalid_auth"
    assert world.slack.refreshes == 1
    connection = service.connections.get(actor, world.connection_id)
    assert connection.status == "inactive"
    assert connection.status_message == "Slack rejected the credentials: invalid_auth"
    assert "CANARY" not in connection.model_dump_json()

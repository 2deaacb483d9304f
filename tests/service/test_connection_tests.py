"""Testing a connection (``service/connection_tests.py``); the revoke story's Test, refreshed
once before deciding, is in ``tests/e2e/test_revoke_story.py``; a token without
``expires_in`` lasting the app's ``default_token_lifetime_seconds`` is here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from gatekey.catalog.schema import App
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes.oauth_apis import API, FakeOAuthApi, oauth_app
from tests.fakes.oauth_apis import CLIENT_ID as FAKE_CLIENT_ID
from tests.fakes.oauth_apis import CLIENT_SECRET as FAKE_CLIENT_SECRET
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


# -- a token the provider sends without expires_in (G2) -------------------------------
LIFETIME = 7200


@pytest.fixture
def lifetime_api() -> FakeOAuthApi:
    """Salesforce-shaped: no ``expires_in``, ``issued_at`` and ``instance_url`` instead."""
    return FakeOAuthApi(token_fields={"issued_at": "1767225600000", "instance_url": API})


@pytest.fixture
def lifetime_service(settings: Settings, lifetime_api: FakeOAuthApi) -> Iterator[Service]:
    definition = oauth_app(
        "salesforce-like",
        base_url="{instance_url}",
        oauth2={
            "client_auth_method": "client_secret_post",
            "token_response_config": ["instance_url"],
            "default_token_lifetime_seconds": LIFETIME,
        },
    )
    runtime = open_runtime(
        settings,
        transport=lifetime_api.transport(),
        extra_apps=[App.model_validate(definition)],
        migrate=False,
    )
    yield runtime.service
    runtime.close()


def _connect_fake(service: Service, api: FakeOAuthApi, app: str) -> tuple[Actor, str]:
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    service.oauth_clients.register(
        actor, app=app, client_id=FAKE_CLIENT_ID, client_secret=FAKE_CLIENT_SECRET
    )
    session = service.authorizations.start(actor, app=app, name="Acme org")
    outcome = service.system.complete_authorization(api.consent(session.authorize_url or ""))
    assert outcome.status == "succeeded", outcome.error_message
    return actor, outcome.connection_id or ""


def _later(service: Service, delta: timedelta) -> None:
    real = service.context.clock
    service.context.clock = lambda: real() + delta
    service.internals.provider._clock = service.context.clock


def test_a_token_without_expires_in_lasts_the_apps_default_lifetime(
    lifetime_service: Service, lifetime_api: FakeOAuthApi
) -> None:
    actor, connection_id = _connect_fake(lifetime_service, lifetime_api, "salesforce-like")
    connection = lifetime_service.connections.get(actor, connection_id)
    assert connection.expires_at is not None and connection.last_refreshed_at is not None
    assert connection.expires_at - connection.last_refreshed_at == timedelta(seconds=LIFETIME)

    _later(lifetime_service, timedelta(seconds=LIFETIME + 1))
    lifetime_api.expire()  # the org's session timeout ended the first token
    handed = lifetime_service.credentials.resolve(actor, connection_id)
    assert handed.fields["access_token"] == "at-2", "refreshed before it was handed out"
    assert [r["grant_type"] for r in lifetime_api.token_requests] == [
        "authorization_code",
        "refresh_token",
    ]
    refreshed = lifetime_service.connections.get(actor, connection_id)
    assert refreshed.expires_at is not None and refreshed.last_refreshed_at is not None
    assert refreshed.expires_at - refreshed.last_refreshed_at == timedelta(seconds=LIFETIME)


def test_testing_after_the_lifetime_refreshes_first_and_stays_active(
    lifetime_service: Service, lifetime_api: FakeOAuthApi
) -> None:
    """The audit's Salesforce break: Test after the session timeout marked a working
    connection Inactive. Now the token is refreshed before the test request is sent."""
    actor, connection_id = _connect_fake(lifetime_service, lifetime_api, "salesforce-like")
    _later(lifetime_service, timedelta(seconds=LIFETIME + 1))
    lifetime_api.expire()
    lifetime_api.api_requests.clear()

    result = lifetime_service.connections.test(actor, connection_id)

    assert result.ok, result.message
    assert result.account_label == "Ada"
    assert lifetime_service.connections.get(actor, connection_id).status == "active"
    sent = [r.headers["authorization"] for r in lifetime_api.api_requests]
    assert sent == ["Bearer at-2"], "the expired token was never sent"

"""Testing a connection (``service/connection_tests.py``); the revoke story's Test, refreshed
once before deciding, is in ``tests/e2e/test_revoke_story.py``."""

from __future__ import annotations

from gatekey.service import Actor, Service
from tests.fakes.providers import FakeProviders


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

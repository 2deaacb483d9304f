"""``oauth.refresh`` through the service: refresh before resolution, margins, rotation, merge,
and the failure classes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from gatekey.errors import ConnectionInactive, OAuthClientRejected, ProviderUnavailable
from gatekey.service import Actor, Service
from tests.fakes.sandbox import Sandbox, connect


def _travel(service: Service, delta: timedelta) -> Callable[[], datetime]:
    """Move the service's clock (and the provider client's, which stamps token requests)."""
    real = service.context.clock
    _set_clock(service, lambda: real() + delta)
    return real


def _set_clock(service: Service, clock: Callable[[], datetime]) -> None:
    service.context.clock = clock
    service.internals.provider._clock = clock


def _secret(service: Service, actor: Actor, connection_id: str) -> dict[str, object]:
    return service.credentials.open(actor, connection_id).secret


def test_valid_token_is_handed_out_without_a_token_request(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    before = sandbox.token_requests()
    first = oauth_service.credentials.resolve(oauth_actor, connection_id)
    second = oauth_service.credentials.resolve(oauth_actor, connection_id)
    assert first.fields == second.fields
    assert sandbox.token_requests() == before


def test_expiring_token_is_refreshed_first_and_rotation_is_kept(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    old = oauth_service.credentials.resolve(oauth_actor, connection_id)
    old_refresh = _secret(oauth_service, oauth_actor, connection_id)["refresh_token"]
    _travel(oauth_service, timedelta(minutes=56))  # 3600 s token: inside the 5-minute margin

    new = oauth_service.credentials.resolve(oauth_actor, connection_id)

    assert new.fields["access_token"] != old.fields["access_token"]
    assert sandbox.token_requests("refresh_token") == 1
    assert new.expires_at is not None and old.expires_at is not None
    assert new.expires_at > old.expires_at
    secret = _secret(oauth_service, oauth_actor, connection_id)
    assert secret["refresh_token"] != old_refresh, "the rotated refresh token is stored"
    connection = oauth_service.connections.get(oauth_actor, connection_id)
    assert connection.last_refreshed_at is not None
    assert connection.verified_at == connection.last_refreshed_at, "the refresh proves the grant"
    actions = [e.action for e in oauth_service.connections.audit_trail(oauth_actor, connection_id)]
    assert "connection.refresh" in actions
    # The new token is what the next resolution hands out, without another request.
    again = oauth_service.credentials.resolve(oauth_actor, connection_id)
    assert again.fields == new.fields
    assert sandbox.token_requests("refresh_token") == 1


def test_short_lived_tokens_are_refreshed_at_half_their_life(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    sandbox.control("ttl", seconds=120)
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    real = _travel(oauth_service, timedelta(seconds=50))
    oauth_service.credentials.resolve(oauth_actor, connection_id)
    assert sandbox.token_requests("refresh_token") == 0, "120 s token at 50 s: not yet"
    _set_clock(oauth_service, lambda: real() + timedelta(seconds=61))
    oauth_service.credentials.resolve(oauth_actor, connection_id)
    assert sandbox.token_requests("refresh_token") == 1


def test_stale_token_reported_by_the_app_forces_one_refresh(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    stale = oauth_service.credentials.resolve(oauth_actor, connection_id).fields["access_token"]
    fresh = oauth_service.credentials.resolve(oauth_actor, connection_id, stale_token=stale)
    assert fresh.fields["access_token"] != stale
    # A second caller with the same stale token gets the new one; no second request.
    again = oauth_service.credentials.resolve(oauth_actor, connection_id, stale_token=stale)
    assert again.fields == fresh.fields
    assert sandbox.token_requests("refresh_token") == 1


def test_revoked_grant_makes_the_connection_inactive_with_the_reason(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    sandbox.control("revoke", user="ada@example.com")
    _travel(oauth_service, timedelta(hours=2))

    with pytest.raises(ConnectionInactive) as caught:
        oauth_service.credentials.resolve(oauth_actor, connection_id)

    assert caught.value.details["reason"] == "revoked"
    assert "revoked" in caught.value.message
    connection = oauth_service.connections.get(oauth_actor, connection_id)
    assert connection.status == "inactive"
    assert connection.status_reason == "revoked"
    assert "invalid or was revoked" in (connection.status_message or "")
    # Once inactive, resolutions fail at once, without asking the provider again.
    with pytest.raises(ConnectionInactive):
        oauth_service.credentials.resolve(oauth_actor, connection_id)
    assert sandbox.token_requests("refresh_token") == 1
    # Reconnecting heals it under the same id.
    session = oauth_service.authorizations.start(oauth_actor, connection_id=connection_id)
    oauth_service.system.complete_authorization(sandbox.consent(session.authorize_url or ""))
    assert oauth_service.connections.get(oauth_actor, connection_id).status == "active"
    assert oauth_service.credentials.resolve(oauth_actor, connection_id).fields["access_token"]


@pytest.mark.parametrize(
    ("fault", "retry_after"),
    [
        ({"status": 503}, None),
        ({"status": 429, "retry_after": 120}, 120),
        ({"status": 502}, None),
        ({"status": 200}, None),  # a 200 whose body is not JSON (a proxy's page)
    ],
)
def test_unavailable_provider_never_deactivates_and_backs_off(
    oauth_service: Service,
    oauth_actor: Actor,
    sandbox: Sandbox,
    fault: dict[str, int],
    retry_after: int | None,
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    sandbox.control("fail", **fault, count=2)
    real = oauth_service.context.clock
    soon, late = real() + timedelta(minutes=58), real() + timedelta(minutes=61)
    _set_clock(oauth_service, lambda: soon)

    # Within the margin but still valid: the current token is handed out, the error recorded.
    still = oauth_service.credentials.resolve(oauth_actor, connection_id)
    assert still.fields["access_token"]
    connection = oauth_service.connections.get(oauth_actor, connection_id)
    assert connection.status == "active"
    assert str(fault["status"]) in (connection.last_error or "")

    # Expired, and the provider fails again: a clear error, the connection stays active.
    _set_clock(oauth_service, lambda: late)
    with pytest.raises(ProviderUnavailable) as caught:
        oauth_service.credentials.resolve(oauth_actor, connection_id)
    assert oauth_service.connections.get(oauth_actor, connection_id).status == "active"

    # Backing off: the same error at once, without a request to the provider.
    requests = sandbox.token_requests()
    with pytest.raises(ProviderUnavailable) as caught:
        oauth_service.credentials.resolve(oauth_actor, connection_id)
    assert sandbox.token_requests() == requests
    if retry_after is not None:
        assert (caught.value.retry_after or 0) >= retry_after - 1

    # After the backoff the refresh is tried again and succeeds.
    _set_clock(oauth_service, lambda: late + timedelta(seconds=400))
    healed = oauth_service.credentials.resolve(oauth_actor, connection_id)
    assert healed.fields["access_token"] != still.fields["access_token"]
    connection = oauth_service.connections.get(oauth_actor, connection_id)
    assert connection.last_error is None and connection.status == "active"


def test_slow_provider_is_unavailable_not_revoked(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    oauth_service.internals.provider._timeout = 0.3
    sandbox.control("slow", ms=1500)
    _travel(oauth_service, timedelta(hours=2))
    with pytest.raises(ProviderUnavailable, match=r"could not reach 127\.0\.0\.1: timed out"):
        oauth_service.credentials.resolve(oauth_actor, connection_id)
    sandbox.control("slow", ms=0)
    assert oauth_service.connections.get(oauth_actor, connection_id).status == "active"


def test_rejected_oauth_client_blames_the_client_not_the_connection(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    (client,) = oauth_service.oauth_clients.list(oauth_actor)
    oauth_service.oauth_clients.update(oauth_actor, client.id, client_secret="wrong-secret")
    _travel(oauth_service, timedelta(hours=2))
    with pytest.raises(OAuthClientRejected, match="client id and secret"):
        oauth_service.credentials.resolve(oauth_actor, connection_id)
    assert oauth_service.connections.get(oauth_actor, connection_id).status == "active"


def test_refresh_response_without_refresh_token_keeps_the_old_one(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    kept = _secret(oauth_service, oauth_actor, connection_id)["refresh_token"]
    sandbox.state.rotate_refresh = False
    try:
        _travel(oauth_service, timedelta(hours=2))
        oauth_service.credentials.resolve(oauth_actor, connection_id)
    finally:
        sandbox.state.rotate_refresh = True
    assert _secret(oauth_service, oauth_actor, connection_id)["refresh_token"] == kept


def test_client_credentials_token_is_fetched_on_create_and_when_expired(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    sandbox.state.register_client("machine-1", "machine-secret-CANARY-77", [])
    connection = oauth_service.connections.create(
        oauth_actor,
        app="sandbox",
        name="Sandbox machine",
        auth_kind="oauth2_client_credentials",
        fields={"client_id": "machine-1", "client_secret": "machine-secret-CANARY-77"},
    )
    assert connection.expires_at is not None
    assert connection.account_label == "machine-1@clients"
    assert connection.fields == {"client_id": "machine-1", "client_secret": "••••Y-77"}
    assert sandbox.token_requests("client_credentials") == 1
    credentials = oauth_service.credentials.resolve(oauth_actor, connection.id)
    assert set(credentials.fields) == {"access_token", "token_type"}
    assert "CANARY" not in credentials.model_dump_json()
    _travel(oauth_service, timedelta(hours=2))
    renewed = oauth_service.credentials.resolve(oauth_actor, connection.id)
    assert renewed.fields["access_token"] != credentials.fields["access_token"]
    assert sandbox.token_requests("client_credentials") == 2


def test_testing_an_oauth_connection_refreshes_first_and_reports_revocation(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    _travel(oauth_service, timedelta(hours=2))
    result = oauth_service.connections.test(oauth_actor, connection_id)
    assert result.ok and result.account_label == "ada@example.com"
    assert sandbox.token_requests("refresh_token") == 1
    sandbox.control("revoke")
    _travel(oauth_service, timedelta(hours=2))
    failed = oauth_service.connections.test(oauth_actor, connection_id)
    assert not failed.ok and "revoked" in failed.message

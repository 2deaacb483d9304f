"""``oauth.revocation``: deleting an OAuth2 connection revokes its grant (RFC 7009), retried on
the injected sleeper while the provider is unavailable, with a typed outcome."""

from __future__ import annotations

import time
from typing import Any

import httpx2
import pytest

from gatekey.catalog.schema import AuthMethod
from gatekey.errors import ProviderUnavailable, TokenRequestRefused
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.revocation import NOT_SUPPORTED, Revocation, Revoker
from gatekey.service import Actor, Service
from tests.fakes.sandbox import Sandbox, connect


def test_delete_revokes_the_grant_at_the_provider(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    access = oauth_service.credentials.resolve(oauth_actor, connection_id).fields["access_token"]
    deleted = oauth_service.connections.delete(oauth_actor, connection_id)
    assert deleted.provider_revocation == "revoked"
    assert sandbox.state.counts["revoke"] == 1
    with httpx2.Client(trust_env=False) as http:
        me = http.get(f"{sandbox.url}/api/me", headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 401, "the grant is gone at the provider"
    events = oauth_service.connections.audit_trail(oauth_actor)
    assert any(e.action == "connection.revoke" and e.outcome == "ok" for e in events)


def test_revocation_is_retried_on_503_and_failure_is_recorded(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    first = connect(oauth_service, oauth_actor, sandbox, name="Retried")
    second = connect(oauth_service, oauth_actor, sandbox, name="Failed")
    slept: list[float] = []
    oauth_service.connections.revoker = Revoker(
        oauth_service.internals.provider, oauth_service.internals.client_secrets, sleep=slept.append
    )
    started = time.monotonic()
    sandbox.state.revoke_faults = [503]
    assert oauth_service.connections.delete(oauth_actor, first).provider_revocation == "revoked"
    assert slept == [0.5]
    sandbox.state.revoke_faults = [503, 503, 503]
    assert oauth_service.connections.delete(oauth_actor, second).provider_revocation == "failed"
    assert slept == [0.5, 0.5, 1.0], "0.5 s doubling, on the injected sleeper"
    assert time.monotonic() - started < 1.5, "nothing waited on the real clock"
    assert oauth_service.connections.list(oauth_actor).items == []
    events = oauth_service.connections.audit_trail(oauth_actor)
    failed = [e for e in events if e.action == "connection.revoke" and e.outcome == "failed"]
    assert [e.detail for e in failed] == [{"attempts": 3, "code": "provider_unavailable"}]


class Provider:
    """Answers revocations from a script: an exception to raise, or None for success."""

    def __init__(self, *answers: Exception | None) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def revoke(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        answer = self.answers.pop(0)
        if answer is not None:
            raise answer


def _revoker(provider: Provider, slept: list[float]) -> Revoker:
    def no_client(project_id: str, client_id: str) -> ClientCredentials:
        raise AssertionError("not asked for")

    return Revoker(provider, no_client, sleep=slept.append)  # type: ignore[arg-type]


def _request(oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox) -> Any:
    opened = oauth_service.credentials.open(
        oauth_actor, connect(oauth_service, oauth_actor, sandbox)
    )
    return oauth_service.internals.revoker.prepare(*opened)


def test_the_wait_follows_retry_after_capped(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    request = _request(oauth_service, oauth_actor, sandbox)
    assert request.token and request.token not in repr(request)
    assert request.client.client_secret not in repr(request)
    assert request.hint == "refresh_token"
    slept: list[float] = []
    busy = ProviderUnavailable("busy", retry_after=2.0)
    down = ProviderUnavailable("down", retry_after=90.0)
    provider = Provider(busy, down, None)
    assert _revoker(provider, slept).revoke(request) == Revocation("revoked", 3)
    assert slept == [2.0, 5.0], "Retry-After, at most 5 s"
    assert provider.calls[0]["token_type_hint"] == "refresh_token"


def test_a_refusal_is_not_retried(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    request = _request(oauth_service, oauth_actor, sandbox)
    slept: list[float] = []
    refused = _revoker(Provider(TokenRequestRefused("no")), slept).revoke(request)
    assert refused == Revocation("failed", 1, "token_request_refused")
    assert refused.detail() == {"attempts": 1, "code": "token_request_refused"}
    assert slept == []


@pytest.mark.parametrize("kind", ["api_key", "oauth2_without_revocation_url"])
def test_nothing_to_revoke(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox, kind: str
) -> None:
    opened = oauth_service.credentials.open(
        oauth_actor, connect(oauth_service, oauth_actor, sandbox)
    )
    method: AuthMethod = opened.method
    if kind == "api_key":
        method = method.model_copy(update={"oauth2": None})
        expected = None
    else:
        assert method.oauth2 is not None
        spec = method.oauth2.model_copy(update={"revocation_url": None})
        method = method.model_copy(update={"oauth2": spec})
        expected = NOT_SUPPORTED
    row, details, app, _, secret = opened
    assert oauth_service.internals.revoker.prepare(row, details, app, method, secret) == expected

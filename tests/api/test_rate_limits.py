"""Rate limits over HTTP: 429 with Retry-After per key, per project and per client address;
failed API-key attempts look the same whether the key exists or not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gatekey.runtime import Runtime, open_runtime
from gatekey.server import create_app
from gatekey.service import Actor
from gatekey.settings import Settings
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders


@pytest.fixture
def tight(settings: Settings, providers: FakeProviders) -> Iterator[tuple[TestClient, Runtime]]:
    limits: dict[str, Any] = {
        "rate_resolve_per_key": 3,
        "rate_resolve_per_project": 5,
        "rate_oauth_per_key": 2,
        "rate_callback_per_client": 2,
        "rate_signin_per_client": 2,
        "rate_auth_failures_per_client": 4,
    }
    runtime = open_runtime(settings.model_copy(update=limits), transport=providers.transport())
    with TestClient(create_app(runtime)) as client:
        yield client, runtime
    runtime.close()


def _key(runtime: Runtime, role: str = "runtime") -> dict[str, str]:
    project, _ = runtime.service.system.bootstrap()
    key = runtime.service.access.create_key(Actor.operator(project.id), name=role, role=role)
    return {"Authorization": f"Bearer {key.token}"}


def _refused(response: Any, code: str = "rate_limited") -> float:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == code and body["retry_after"] > 0
    assert int(response.headers["retry-after"]) >= 1
    return float(body["retry_after"])


def test_credential_reads_per_key_then_per_project(
    tight: tuple[TestClient, Runtime],
) -> None:
    client, runtime = tight
    admin = _key(runtime, "admin")
    body = {"app": "sendgrid", "name": "SG", "fields": {"api_key": GOOD_SENDGRID}}
    cid = client.post("/api/v1/connections", json=body, headers=admin).json()["id"]
    first, second = _key(runtime), _key(runtime)
    url = f"/api/v1/connections/{cid}/credentials"

    assert [client.post(url, headers=first).status_code for _ in range(3)] == [200] * 3
    wait = _refused(client.post(url, headers=first))
    assert 15 < wait <= 20
    assert "for this API key" in client.post(url, headers=first).json()["detail"]
    assert [client.post(url, headers=second).status_code for _ in range(2)] == [200] * 2
    refused = client.post(url, headers=second)
    _refused(refused)
    assert "in this project" in refused.json()["detail"]
    trail = runtime.service.connections.audit_trail(
        Actor.operator(runtime.service.system.bootstrap()[0].id), cid
    )
    reads = [e for e in trail if e.action == "credentials.read"]
    assert sum(e.detail.get("count", 1) for e in reads if e.outcome == "ok") == 5
    assert {e.detail.get("code") for e in reads if e.outcome == "refused"} == {"rate_limited"}


def test_failed_keys_look_alike_and_are_counted_per_address(
    tight: tuple[TestClient, Runtime],
) -> None:
    client, runtime = tight
    valid = _key(runtime)
    revoked_key = runtime.service.access.create_key(
        Actor.operator(runtime.service.system.bootstrap()[0].id), name="old", role="runtime"
    )
    runtime.service.access.revoke_key(
        Actor.operator(runtime.service.system.bootstrap()[0].id), revoked_key.id
    )
    answers = [
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        for token in (revoked_key.token, "gk_" + "x" * 43, "nonsense")
    ]
    assert {(a.status_code, a.text) for a in answers} == {(401, answers[0].text)}
    assert client.get("/api/v1/me", headers=valid).status_code == 200
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer no"}).status_code == 401

    _refused(client.get("/api/v1/me", headers=valid))
    _refused(client.get("/api/v1/me", headers={"Authorization": "Bearer gk_unknown"}))


def test_starting_authorizations_per_key(tight: tuple[TestClient, Runtime]) -> None:
    client, runtime = tight
    admin = _key(runtime, "admin")
    registered = client.post(
        "/api/v1/oauth-clients",
        json={"app": "github", "client_id": "Iv1.abc", "client_secret": "s3cret"},
        headers=admin,
    )
    assert registered.status_code == 201, registered.text
    started = [
        client.post(
            "/api/v1/oauth/sessions", json={"app": "github", "name": f"GH {n}"}, headers=admin
        )
        for n in range(3)
    ]
    assert [s.status_code for s in started[:2]] == [201, 201]
    _refused(started[2])


def test_callbacks_and_sign_ins_per_address(tight: tuple[TestClient, Runtime]) -> None:
    client, _ = tight
    assert [client.get("/oauth/callback?state=x").status_code for _ in range(2)] == [400, 400]
    limited = client.get("/oauth/callback?state=x")
    assert limited.status_code == 429 and "rate_limited" in limited.text

    tries = [client.post("/signin", data={"api_key": "gk_wrong"}) for _ in range(3)]
    assert [t.status_code for t in tries] == [401, 401, 429]
    assert "sign-in attempts from this address" in tries[2].text


class Counting:
    """The limiter it wraps, counting the calls made to it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.shared = inner.shared
        self.calls = 0

    def charge(self, charges: Any) -> Any:
        self.calls += 1
        return self.inner.charge(charges)


def test_a_request_costs_one_limiter_call(tight: tuple[TestClient, Runtime]) -> None:
    client, runtime = tight
    admin = _key(runtime, "admin")
    body = {"app": "sendgrid", "name": "SG", "fields": {"api_key": GOOD_SENDGRID}}
    cid = client.post("/api/v1/connections", json=body, headers=admin).json()["id"]
    worker = _key(runtime)
    url = f"/api/v1/connections/{cid}/credentials"
    counting = Counting(runtime.service.context.budgets.limiter)
    runtime.service.context.budgets.limiter = counting
    assert client.post(url, headers=worker).status_code == 200  # the key read from its row
    counting.calls = 0
    assert client.post(url, headers=worker).status_code == 200
    assert counting.calls == 1, "per key, per project and the address's failures: one call"
    assert client.get("/api/v1/me", headers=worker).status_code == 200
    assert counting.calls == 2


def test_an_address_over_its_failures_is_refused_a_credential_read_with_a_known_key(
    tight: tuple[TestClient, Runtime],
) -> None:
    client, runtime = tight
    admin = _key(runtime, "admin")
    body = {"app": "sendgrid", "name": "SG", "fields": {"api_key": GOOD_SENDGRID}}
    cid = client.post("/api/v1/connections", json=body, headers=admin).json()["id"]
    worker = _key(runtime)
    url = f"/api/v1/connections/{cid}/credentials"
    assert client.post(url, headers=worker).status_code == 200  # known to this process now
    wrong = {"Authorization": "Bearer gk_wrong"}
    assert [client.get("/api/v1/me", headers=wrong).status_code for _ in range(4)] == [401] * 4
    refused = client.post(url, headers=worker)
    _refused(refused)
    assert "failed API-key attempts from this address" in refused.json()["detail"]

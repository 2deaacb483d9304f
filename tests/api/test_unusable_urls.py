"""A URL the HTTP client cannot send never answers a 500: every endpoint that ends in an outbound
request (webhook registration, connection create and test, the proxy, OAuth token and
authorization URLs, templated hosts) answers a problem document with a stable code, on the real
transport and with nothing sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gatekey.runtime import Runtime, open_runtime
from gatekey.server import create_app
from gatekey.service import Actor
from gatekey.settings import Settings

UNUSABLE = [
    "http://0177.0.0.1/x",
    "http://[::1",
    "http://\x01.test/",
    "http://x.test:99999",
    "http://a b",
    "ftp://x.test",
]
PROBLEM = "application/problem+json"


@pytest.fixture
def guarded(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str], Runtime]]:
    runtime = open_runtime(settings)
    actor = Actor.operator(runtime.service.system.bootstrap()[0].id)
    key = runtime.service.access.create_key(actor, name="admin", role="admin")
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {key.token}"}, runtime
    runtime.close()


def _app(key: str, url: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """An app whose every URL is ``url``: an API key sent in the query, and client credentials."""
    secret = {"title": "Secret", "secret": True}
    return {
        "key": key,
        "name": key,
        "docs_url": "https://docs.example.com",
        "base_url": url,
        "auth": [
            {
                "kind": "api_key",
                "fields": {"required": ["api_key"], "properties": {"api_key": secret}},
                "config": config or {},
                "apply": [{"type": "query", "name": "key", "value": "{api_key}"}],
                "test_request": {"path": "/me"},
            },
            {
                "kind": "oauth2_client_credentials",
                "fields": {
                    "required": ["client_id", "client_secret"],
                    "properties": {"client_id": {"title": "Id"}, "client_secret": secret},
                },
                "oauth2": {"token_url": url},
            },
        ],
    }


def _refused(response: Any, *codes: str) -> None:
    assert response.status_code < 500, response.text
    assert response.headers["content-type"] == PROBLEM, response.text
    assert response.json()["code"] in codes, response.text


def test_webhook_registration_refuses_unusable_urls(
    guarded: tuple[TestClient, dict[str, str], Runtime],
) -> None:
    client, admin, _ = guarded
    for url in [*UNUSABLE, "https://user:pw@x.test/", "gopher://x"]:
        answer = client.post("/api/v1/webhooks", json={"url": url}, headers=admin)
        _refused(answer, "invalid_input")
        assert answer.status_code == 422 and answer.json()["field"] == "url"
    for url in ("http://169.254.169.254/", "http://[fec0::1]/", "http://[3fff::1]/"):
        answer = client.post("/api/v1/webhooks", json={"url": url}, headers=admin)
        _refused(answer, "destination_blocked")
    assert client.get("/api/v1/webhooks", headers=admin).json() == []


@pytest.mark.parametrize("url", UNUSABLE)
def test_endpoints_that_send_to_an_unusable_url_answer_a_problem(
    guarded: tuple[TestClient, dict[str, str], Runtime], url: str
) -> None:
    client, admin, _ = guarded
    added = client.post("/api/v1/apps", json=_app("odd", url), headers=admin)
    if added.status_code != 201:  # refused when it is registered: as good
        _refused(added, "invalid_input", "invalid_app_definition")
        return
    connections = "/api/v1/connections"
    body = {"app": "odd", "name": "A", "fields": {"api_key": "k-123456"}}
    _refused(client.post(connections, json=body, headers=admin), "invalid_input")
    machine = {
        "app": "odd",
        "name": "M",
        "auth_kind": "oauth2_client_credentials",
        "fields": {"client_id": "id", "client_secret": "s-123456"},
    }
    _refused(client.post(connections, json=machine, headers=admin), "invalid_input")

    stored = client.post(connections, json={**body, "skip_test": True}, headers=admin)
    assert stored.status_code == 201, stored.text
    cid = stored.json()["id"]
    tested = client.post(f"{connections}/{cid}/test", headers=admin)
    assert tested.status_code < 500, tested.text
    _refused(client.get(f"/api/v1/proxy/{cid}/me", headers=admin), "invalid_input")
    assert client.get(f"{connections}/{cid}", headers=admin).status_code == 200


def test_a_templated_host_that_cannot_be_sent_to_answers_a_problem(
    guarded: tuple[TestClient, dict[str, str], Runtime],
) -> None:
    """The app is fine; the person's config makes the URL one the client cannot parse."""
    client, admin, _ = guarded
    shop = {"required": ["shop"], "properties": {"shop": {"title": "Shop"}}}
    definition = _app("shop", "https://{shop}.example.com", config=shop)
    definition["auth"] = definition["auth"][:1]  # the API key only
    added = client.post("/api/v1/apps", json=definition, headers=admin)
    assert added.status_code == 201, added.text
    for value in ("0177.0.0.1#", "[::1", "x:99999#"):
        body = {"app": "shop", "name": "S", "fields": {"api_key": "k-123456"}}
        answer = client.post(
            "/api/v1/connections", json={**body, "config": {"shop": value}}, headers=admin
        )
        _refused(answer, "invalid_input", "invalid_fields")

"""The proxy: auth applied by Gatekey, targets kept under the base URL, one refresh on 401."""

from __future__ import annotations

import pytest

from gatekey.errors import ConnectionInactive, InvalidInput
from gatekey.service import Actor, Service
from gatekey.service.proxy import target_url
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders
from tests.fakes.sandbox import Sandbox, connect


@pytest.mark.parametrize(
    "path",
    ["../admin", "v1/../../admin", "%2e%2e/admin", "//evil.example/x", "https://evil.example/",
     "a\\..\\b", "x\nHost: evil"],
)  # fmt: skip
def test_targets_outside_the_base_url_are_refused(path: str) -> None:
    with pytest.raises(InvalidInput):
        target_url("https://api.example.com/v1", path)


def test_targets_inside_the_base_url() -> None:
    assert (
        target_url("https://api.example.com/v1", "users/me")
        == "https://api.example.com/v1/users/me"
    )
    assert target_url("https://api.example.com/v1/", "/a/./b/") == "https://api.example.com/v1/a/b/"
    assert target_url("https://api.example.com", "x") == "https://api.example.com/x"


def test_the_proxy_applies_the_connection_and_drops_the_callers_auth(
    service: Service, actor: Actor, providers: FakeProviders
) -> None:
    created = service.connections.create(
        actor, app="sendgrid", name="SG", fields={"api_key": GOOD_SENDGRID}
    )
    providers.requests.clear()
    answer = service.proxy.send(
        actor,
        created.id,
        "GET",
        "v3/scopes",
        query={"limit": "1"},
        headers={"Authorization": "Bearer caller-token", "Cookie": "a=b", "X-Trace": "t1"},
    )
    assert answer.status == 200 and b"mail.send" in answer.body
    (sent,) = providers.requests
    assert str(sent.url) == "https://api.sendgrid.com/v3/scopes?limit=1"
    assert sent.headers["authorization"] == f"Bearer {GOOD_SENDGRID}"
    assert "cookie" not in sent.headers and sent.headers["x-trace"] == "t1"


def test_a_401_refreshes_once_and_retries(
    oauth_service: Service, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    connection_id = connect(oauth_service, oauth_actor, sandbox)
    sandbox.state.access.clear()  # the provider forgets every access token early
    answer = oauth_service.proxy.send(oauth_actor, connection_id, "GET", "api/me")
    assert answer.status == 200 and b"ada@example.com" in answer.body
    assert sandbox.token_requests("refresh_token") == 1
    sandbox.control("revoke")
    sandbox.state.access.clear()
    with pytest.raises(ConnectionInactive):
        oauth_service.proxy.send(oauth_actor, connection_id, "GET", "api/me")
    assert oauth_service.connections.get(oauth_actor, connection_id).status == "inactive"

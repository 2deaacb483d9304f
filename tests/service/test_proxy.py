"""The proxy: auth applied by Gatekey over the caller's headers (but for those the app lets a
caller override), targets kept under the base URL, one refresh on 401 or on a body that says
the token expired."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import pytest

from gatekey.domain.bodies import MAX_READ
from gatekey.errors import ConnectionInactive, InvalidInput
from gatekey.service import Actor, Service
from gatekey.service.proxy import Proxied, target_url
from gatekey.settings import Settings
from tests.fakes.apps import NOTION_KEY, notion_like
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders
from tests.fakes.sandbox import Sandbox, connect
from tests.fakes.slack import FIRST_TOKEN, SlackWorld, slack_world


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


@pytest.fixture
def world(settings: Settings) -> Iterator[SlackWorld]:
    with slack_world(settings) as opened:
        yield opened


def _post(world: SlackWorld, channel: str = "C0001") -> Proxied:
    return world.runtime.service.proxy.send(
        world.actor,
        world.connection_id,
        "POST",
        "chat.postMessage",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"channel": channel, "text": "hi"}).encode(),
    )


def test_a_200_whose_body_says_the_token_expired_refreshes_once_and_retries(
    world: SlackWorld,
) -> None:
    world.slack.expire(FIRST_TOKEN)
    answer = _post(world)
    assert answer.status == 200 and json.loads(answer.body)["ok"] is True
    assert world.slack.refreshes == 1
    first, _refresh, retried = world.slack.requests
    assert first.headers["authorization"] == f"Bearer {FIRST_TOKEN}"
    assert retried.headers["authorization"] != first.headers["authorization"]
    assert json.loads(retried.content) == {"channel": "C0001", "text": "hi"}


def test_a_refresh_that_does_not_help_passes_the_apps_answer_on(world: SlackWorld) -> None:
    world.slack.expire(FIRST_TOKEN)
    world.slack.issue_as = "expired"
    answer = _post(world)
    assert json.loads(answer.body) == {"ok": False, "error": "token_expired"}
    assert world.slack.refreshes == 1, "one refresh, one retry, never a loop"


def test_other_bodies_are_passed_on_without_a_refresh(world: SlackWorld) -> None:
    answer = _post(world, channel="C404")
    assert json.loads(answer.body) == {"ok": False, "error": "channel_not_found"}
    assert world.slack.refreshes == 0


def test_a_large_body_is_not_read_for_the_rule(world: SlackWorld) -> None:
    """Only small JSON answers are parsed for ``expired_when``; a big one passes untouched."""
    big = json.dumps({"ok": False, "error": "token_expired", "pad": "x" * MAX_READ}).encode()
    world.slack.canned["/api/files.big"] = big
    answer = world.runtime.service.proxy.send(world.actor, world.connection_id, "GET", "files.big")
    assert answer.body == big and world.slack.refreshes == 0


@pytest.fixture
def notion(service: Service, actor: Actor, providers: FakeProviders) -> str:
    """A connection of a Notion-shaped app whose ``Notion-Version`` a caller may override."""
    providers.accepted.add(NOTION_KEY)
    service.apps.add(actor, notion_like())
    made = service.connections.create(
        actor, app="notion-test", name="Notion", fields={"api_key": NOTION_KEY}
    )
    providers.requests.clear()
    return made.id


def _sent(
    service: Service,
    actor: Actor,
    providers: FakeProviders,
    connection: str,
    headers: dict[str, str],
) -> httpx2.Headers:
    service.proxy.send(actor, connection, "GET", "users/me", headers=headers)
    (sent,) = providers.requests
    return sent.headers


def test_a_callers_version_header_replaces_the_apps_overridable_one(
    service: Service, actor: Actor, providers: FakeProviders, notion: str
) -> None:
    sent = _sent(service, actor, providers, notion, {"notion-version": "2026-03-11"})
    assert sent.get_list("notion-version") == ["2026-03-11"]
    assert sent["authorization"] == f"Bearer {NOTION_KEY}"


def test_without_a_callers_value_the_apps_version_goes(
    service: Service, actor: Actor, providers: FakeProviders, notion: str
) -> None:
    sent = _sent(service, actor, providers, notion, {"X-Trace": "t1"})
    assert sent.get_list("notion-version") == ["2022-06-28"] and sent["x-trace"] == "t1"


def test_a_caller_never_replaces_the_apps_other_headers_in_any_case(
    service: Service, actor: Actor, providers: FakeProviders, notion: str
) -> None:
    """``Authorization`` is the app's (the caller's is dropped), and a header not marked
    overridable wins over a caller's of the same name written in another case, never sent
    beside it."""
    sent = _sent(
        service,
        actor,
        providers,
        notion,
        {"Authorization": "Bearer caller-token", "x-workspace": "evil", "X-WORKSPACE": "evil2"},
    )
    assert sent.get_list("authorization") == [f"Bearer {NOTION_KEY}"]
    assert sent.get_list("x-workspace") == ["acme"]

"""The ``two_step`` minter through the service, against a login API on loopback
(``tests.fakes.login_api``): logins as JSON, as a form and as a personal-access-token
exchange make active connections whose token the proxy uses and resolve hands out; the
token is renewed by logging in again when it falls due, or when the API calls it expired;
a refused password, an outage and an answer without a token each end as the refresher
expects; no password is ever shown."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from gatekey.catalog.schema import App
from gatekey.errors import (
    ConnectionInactive,
    CredentialsRejected,
    ProviderUnavailable,
    TokenRequestRefused,
)
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes.login_api import LoginApi, login_api

PASSWORD = "CANARY-password-5d1f0c"
PAT = "CANARY-pat-a81b77e2"
USER = {"username": "alice", "password": PASSWORD}


def _app(key: str, base_url: str, fields: list[str], two_step: dict[str, Any]) -> App:
    return App.model_validate(
        {
            "key": key,
            "name": f"Login API ({key})",
            "docs_url": "https://example.test/docs",
            "base_url": base_url,
            "builtin": False,
            "auth": [
                {
                    "kind": "two_step",
                    "fields": {
                        "properties": {
                            name: {"title": name, "secret": name != "username"} for name in fields
                        },
                        "required": fields,
                    },
                    "two_step": two_step,
                    "apply": [{"type": "bearer", "value": "{access_token}"}],
                    "test_request": {"path": "/me", "account_label": ["user"]},
                }
            ],
        }
    )


def _apps(base: str) -> list[App]:
    credentials = {"username": "{username}", "password": "{password}"}
    return [
        _app(
            "login-json",
            base,
            ["username", "password"],
            {
                "token_url": f"{base}/login",
                "params": credentials,
                "token_path": "data.token",
                "expires_in_path": "data.expires_in",
            },
        ),
        _app(
            "login-form",
            base,
            ["username", "password"],
            {
                "token_url": f"{base}/login/form",
                "body": "form",
                "params": credentials,
                "expires_at_path": "expires_at",
            },
        ),
        _app(
            "login-pat",
            base,
            ["username", "token"],
            {
                "token_url": f"{base}/pat",
                "body": "none",
                "basic": ["{username}", "{token}"],
                "token_path": "session.id",
                "expires_at_path": "session.expires_at",
            },
        ),
        _app(
            "login-get",
            base,
            ["username", "token"],
            {
                "token_url": f"{base}/session",
                "http_method": "GET",
                "body": "none",
                "params": {"user": "{username}"},
                "headers": {"Authorization": "Token {token}"},
                "expires_in_path": "ttl",
            },
        ),
        _app(
            "login-fixed",
            base,
            ["username", "password"],
            {
                "token_url": f"{base}/login",
                "params": credentials,
                "token_path": "data.token",
                "lifetime_seconds": 600,
            },
        ),
        _app(
            "login-wrong-path",
            base,
            ["username", "password"],
            {"token_url": f"{base}/login", "params": credentials, "token_path": "access_token"},
        ),
        _app("login-missing", base, ["username", "password"], {"token_url": f"{base}/nope"}),
        _app("login-gone", base, ["username", "password"], {"token_url": _closed_port()}),
    ]


def _closed_port() -> str:
    """A loopback URL nothing listens at."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/login"


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[LoginApi, str]]:
    peer = LoginApi()
    with login_api(peer) as base:
        yield peer, base


@pytest.fixture
def service(settings: Settings, api: tuple[LoginApi, str]) -> Iterator[tuple[Service, Actor]]:
    peer, base = api
    peer.users, peer.pats, peer.tokens = {"alice": PASSWORD}, {PAT: "alice"}, {}
    peer.offset, peer.outage, peer.logins = timedelta(0), False, 0
    local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
    runtime = open_runtime(local, migrate=False, extra_apps=_apps(base))
    project, _ = runtime.service.system.bootstrap()
    yield runtime.service, Actor.operator(project.id)
    runtime.close()


def _travel(service: Service, peer: LoginApi, delta: timedelta) -> None:
    """Move the service's clock and the API's by ``delta``."""
    real = service.context.clock
    service.context.clock = lambda: real() + delta
    peer.offset += delta


@pytest.mark.parametrize(
    ("app", "fields", "lifetime"),
    [
        ("login-json", USER, 3600),
        ("login-form", USER, 3600),
        ("login-pat", {"username": "alice", "token": PAT}, 3600),
        ("login-get", {"username": "alice", "token": PAT}, 1800),
        ("login-fixed", USER, 600),  # the answer says nothing: the recipe's lifetime
    ],
)
def test_a_login_makes_an_active_connection_the_proxy_and_resolve_use(
    service: tuple[Service, Actor],
    api: tuple[LoginApi, str],
    app: str,
    fields: dict[str, str],
    lifetime: int,
) -> None:
    svc, actor = service
    peer, _ = api
    made = svc.connections.create(actor, app=app, name="mine", fields=fields)
    assert made.status == "active" and made.account_label == "alice"
    assert peer.logins == 1

    proxied = svc.proxy.send(actor, made.id, "GET", "/me")
    assert proxied.status == 200 and proxied.body == b'{"user": "alice"}'
    creds = svc.credentials.resolve(actor, made.id)
    assert creds.fields["access_token"] in peer.tokens
    assert creds.expires_at is not None
    lasts = creds.expires_at - svc.context.clock()
    assert timedelta(seconds=lifetime - 60) < lasts <= timedelta(seconds=lifetime)
    assert peer.logins == 1, "a valid token is used as it is"


def test_a_token_falling_due_is_renewed_by_logging_in_again_once(
    service: tuple[Service, Actor], api: tuple[LoginApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    made = svc.connections.create(actor, app="login-json", name="mine", fields=USER)
    old = svc.credentials.resolve(actor, made.id).fields["access_token"]
    _travel(svc, peer, timedelta(minutes=56))  # inside the 5-minute margin

    new = svc.credentials.resolve(actor, made.id).fields["access_token"]
    again = svc.credentials.resolve(actor, made.id).fields["access_token"]

    assert new != old and again == new
    assert peer.logins == 2
    assert svc.proxy.send(actor, made.id, "GET", "/me").status == 200


def test_a_token_the_api_calls_expired_is_minted_again_and_the_call_retried_once(
    service: tuple[Service, Actor], api: tuple[LoginApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    made = svc.connections.create(actor, app="login-json", name="mine", fields=USER)
    old = svc.credentials.resolve(actor, made.id).fields["access_token"]
    peer.offset += timedelta(hours=2)  # the API's clock only: it sees the token as expired

    proxied = svc.proxy.send(actor, made.id, "GET", "/me")

    assert proxied.status == 200
    assert peer.logins == 2
    assert svc.credentials.resolve(actor, made.id).fields["access_token"] != old


def test_a_wrong_password_is_refused_with_the_apis_words_and_nothing_is_stored(
    service: tuple[Service, Actor],
) -> None:
    svc, actor = service
    wrong = {"username": "alice", "password": "CANARY-not-the-password-77"}
    with pytest.raises(CredentialsRejected) as json_refusal:
        svc.connections.create(actor, app="login-json", name="mine", fields=wrong)
    assert "wrong username or password for alice" in json_refusal.value.message

    with pytest.raises(CredentialsRejected) as echoed:  # this variant quotes the password
        svc.connections.create(actor, app="login-form", name="mine", fields=wrong)
    assert "no user alice with password ••••" in echoed.value.message
    assert "CANARY" not in str(echoed.value) + repr(echoed.value.details)

    pat = {"username": "alice", "token": "CANARY-not-the-pat-0042"}
    with pytest.raises(CredentialsRejected) as pat_refusal:
        svc.connections.create(actor, app="login-pat", name="mine", fields=pat)
    assert "personal access token refused" in pat_refusal.value.message
    assert svc.connections.list(actor).items == []


def test_a_password_changed_at_the_api_makes_the_connection_inactive_on_refresh(
    service: tuple[Service, Actor], api: tuple[LoginApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    made = svc.connections.create(actor, app="login-json", name="mine", fields=USER)
    peer.users["alice"] = "changed-elsewhere"
    _travel(svc, peer, timedelta(hours=2))

    with pytest.raises(ConnectionInactive) as caught:
        svc.credentials.resolve(actor, made.id)

    assert "wrong username or password for alice" in caught.value.message
    got = svc.connections.get(actor, made.id)
    assert got.status == "inactive" and got.status_reason == "invalid_credentials"
    assert got.status_message is not None and "wrong username or password" in got.status_message


def test_an_outage_is_provider_unavailable_and_the_connection_stays_active(
    service: tuple[Service, Actor], api: tuple[LoginApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    peer.outage = True
    with pytest.raises(ProviderUnavailable) as at_create:
        svc.connections.create(actor, app="login-json", name="mine", fields=USER)
    assert "answered 503" in at_create.value.message
    assert svc.connections.list(actor).items == []

    peer.outage = False
    made = svc.connections.create(actor, app="login-json", name="mine", fields=USER)
    old = svc.credentials.resolve(actor, made.id).fields["access_token"]
    peer.outage = True
    _travel(svc, peer, timedelta(minutes=56))  # due, not yet expired

    assert svc.credentials.resolve(actor, made.id).fields["access_token"] == old
    assert svc.connections.get(actor, made.id).status == "active"


def test_an_answer_without_a_token_at_the_path_is_refused_naming_the_path(
    service: tuple[Service, Actor],
) -> None:
    svc, actor = service
    with pytest.raises(TokenRequestRefused) as caught:
        svc.connections.create(actor, app="login-wrong-path", name="mine", fields=USER)
    assert "no token at 'access_token'" in caught.value.message
    assert svc.connections.list(actor).items == []


def test_other_refusals_and_no_answer_are_told_apart(service: tuple[Service, Actor]) -> None:
    svc, actor = service
    with pytest.raises(TokenRequestRefused) as refused:
        svc.connections.create(actor, app="login-missing", name="mine", fields=USER)
    assert "refused the login request (HTTP 404): not found" in refused.value.message
    with pytest.raises(ProviderUnavailable) as unreachable:
        svc.connections.create(actor, app="login-gone", name="mine", fields=USER)
    assert "connection refused" in unreachable.value.message
    assert svc.connections.list(actor).items == []


def test_the_password_is_never_shown(
    service: tuple[Service, Actor], api: tuple[LoginApi, str], caplog: pytest.LogCaptureFixture
) -> None:
    svc, actor = service
    peer, _ = api
    caplog.set_level(logging.DEBUG)
    made = svc.connections.create(actor, app="login-form", name="mine", fields=USER)
    pat = svc.connections.create(
        actor, app="login-pat", name="pat", fields={"username": "alice", "token": PAT}
    )
    peer.users["alice"] = "changed-elsewhere"
    _travel(svc, peer, timedelta(hours=2))
    with pytest.raises(ConnectionInactive) as inactive:
        svc.credentials.resolve(actor, made.id)
    assert svc.credentials.resolve(actor, pat.id).fields["access_token"] in peer.tokens
    with pytest.raises(CredentialsRejected) as refused:  # the API quotes this password back
        svc.connections.create(actor, app="login-form", name="x", fields=USER)
    errors = [str(e.value) + repr(e.value.details) for e in (inactive, refused)]

    shown = [
        *errors,
        svc.connections.list(actor).model_dump_json(),
        svc.connections.get(actor, made.id).model_dump_json(),
        svc.connections.get(actor, pat.id).model_dump_json(),
        caplog.text,
    ]
    for text in shown:
        assert "CANARY" not in text

"""How the ``github_app`` minter sorts GitHub's answers into the classes the refresher acts
on, one answer at a time (``httpx2.MockTransport``): 401 rejected, 404 and a suspension
revoked, 429, 5xx, a used-up rate limit and no answer retried, anything else refused; no
OAuth client, or no installation id, is said plainly; no key material in any message."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx2
import jwt as pyjwt
import pytest

from gatekey.catalog.schema import App
from gatekey.errors import (
    CredentialsRejected,
    GatekeyError,
    GrantRevoked,
    InvalidFields,
    OAuthClientMissing,
    ProviderUnavailable,
    TokenRequestRefused,
)
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.minters.github import GitHubAppMinter
from gatekey.oauth.minting import Mint
from tests.fakes import pki

KEY = pki.rsa_pem("github-app")
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
CLIENT = ClientCredentials("Iv23liTEST", KEY)


def _app(base: str = "https://api.github.test") -> App:
    return App.model_validate(
        {
            "key": "gh-unit",
            "name": "GitHub (unit)",
            "docs_url": "https://docs.github.com/en/apps",
            "base_url": base,
            "builtin": False,
            "auth": [
                {
                    "kind": "github_app",
                    "github_app": {
                        "install_url": "https://github.com/apps/x/installations/new",
                        "app_jwt": {"algorithm": "RS256", "key": "private_key"},
                        "token_url": f"{base}/app/installations/{{installation_id}}/access_tokens",
                    },
                    "apply": [{"type": "bearer", "value": "{access_token}"}],
                }
            ],
        }
    )


def _mint(
    answer: Callable[[httpx2.Request], httpx2.Response],
    *,
    client: ClientCredentials | None = CLIENT,
    config: dict[str, Any] | None = None,
    base: str = "https://api.github.test",
) -> Any:
    app = _app(base)
    request = Mint(
        app,
        app.auth[0],
        "conn_x",
        {},
        {"installation_id": "42"} if config is None else config,
        (),
        client,
    )
    with httpx2.Client(transport=httpx2.MockTransport(answer)) as http:
        return GitHubAppMinter(http, clock=lambda: NOW).mint(request)


def _said(status: int, message: str, **headers: str) -> Callable[[httpx2.Request], httpx2.Response]:
    return lambda _: httpx2.Response(status, json={"message": message}, headers=headers)


def test_a_token_and_its_expiry_are_read_from_the_answer() -> None:
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(201, json={"token": "ghs_x", "expires_at": "2026-05-04T13:00:00Z"})

    got = _mint(answer)

    assert got.body == {"access_token": "ghs_x", "expires_in": 3600}
    (sent,) = seen
    assert sent.method == "POST"
    assert sent.url.path == "/app/installations/42/access_tokens"
    token = sent.headers["Authorization"].removeprefix("Bearer ")
    claims = pyjwt.decode(
        token, pki.public_pem(KEY), algorithms=["RS256"], options={"verify_exp": False}
    )
    assert claims["iss"] == "Iv23liTEST", "iss defaults to the client id"
    assert claims["iat"] == int(NOW.timestamp()) - 60
    assert claims["exp"] == int(NOW.timestamp()) + 540, "capped under GitHub's 10 minutes"


@pytest.mark.parametrize(
    ("answer", "error", "words"),
    [
        (_said(401, "A JSON web token could not be decoded"), CredentialsRejected, "decoded"),
        (_said(404, "Not Found"), GrantRevoked, "installation 42"),
        (_said(403, "This installation has been suspended"), GrantRevoked, "suspended"),
        (_said(403, "rate limit", **{"x-ratelimit-remaining": "0"}), ProviderUnavailable, "rate"),
        (_said(403, "Resource not accessible by integration"), TokenRequestRefused, "accessible"),
        (_said(429, "slow down", **{"Retry-After": "30"}), ProviderUnavailable, "429"),
        (_said(502, "Bad Gateway"), ProviderUnavailable, "502"),
        (_said(422, "Validation Failed"), TokenRequestRefused, "Validation Failed"),
        (lambda _: httpx2.Response(201, json={"expires_at": "x"}), TokenRequestRefused, "token"),
    ],
)
def test_each_answer_is_sorted_into_its_class(
    answer: Callable[[httpx2.Request], httpx2.Response], error: type[GatekeyError], words: str
) -> None:
    with pytest.raises(error) as caught:
        _mint(answer)
    assert type(caught.value) is error
    assert words in caught.value.message
    assert KEY.splitlines()[1] not in str(caught.value) + repr(caught.value.details)


def test_a_429_keeps_the_wait_github_asks_for() -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        _mint(_said(429, "slow down", **{"Retry-After": "30"}))
    assert caught.value.details["retry_after"] == 30


def test_no_answer_is_retried() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = _app(f"http://127.0.0.1:{port}")
    request = Mint(app, app.auth[0], "c", {}, {"installation_id": "42"}, (), CLIENT)
    with httpx2.Client() as http, pytest.raises(ProviderUnavailable) as caught:
        GitHubAppMinter(http, clock=lambda: NOW).mint(request)
    assert "connection refused" in caught.value.message


def test_an_echoed_key_is_masked() -> None:
    line = KEY.splitlines()[3]
    with pytest.raises(TokenRequestRefused) as caught:
        _mint(_said(400, f"bad key {line}"))
    assert line not in caught.value.message and "••••" in caught.value.message


def test_without_an_oauth_client_or_an_installation_it_says_what_is_missing() -> None:
    never = _said(500, "never asked")
    with pytest.raises(OAuthClientMissing) as no_client:
        _mint(never, client=None)
    assert "private key" in no_client.value.message
    for config in ({}, {"installation_id": "../../user"}):
        with pytest.raises(InvalidFields) as no_installation:
            _mint(never, config=config)
        assert no_installation.value.details["errors"][0]["field"] == "installation_id"


def test_a_secret_that_is_no_key_is_refused_naming_the_client_secret() -> None:
    with pytest.raises(InvalidFields) as caught:
        _mint(_said(500, "never asked"), client=ClientCredentials("Iv23liTEST", "not-a-key"))
    assert caught.value.details["errors"][0]["field"] == "client_secret"

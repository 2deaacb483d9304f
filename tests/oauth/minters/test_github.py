"""The ``github_app`` minter through the service, against a GitHub API on loopback that checks
each app JWT with PyJWT (``tests.fakes.github_api``): the project's OAuth client holds the
app's client id and private key; installing the app (the install URL with ``state``, then
GitHub's redirect with the ``installation_id``) makes an active connection named after the
installation's account, whose installation token the proxy uses and resolve hands out. The
token is minted again, once, when it falls due; a deleted or suspended installation ends the
connection as revoked with GitHub's words; an outage is retried; an installation GitHub does
not know is refused before anything is stored; the private key is never handed out or shown.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt as pyjwt
import pytest

from gatekey.catalog.schema import App
from gatekey.errors import ConnectionInactive, Hint, InvalidInput, ProviderUnavailable
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes import pki
from tests.fakes.github_api import GitHubApi, Installation, github_api

APP_KEY = pki.rsa_pem("github-app")
OTHER_KEY = pki.rsa_pem("github-other")
CLIENT_ID = "Iv23liCANARYNOT1"
INSTALL_URL = "https://github.com/apps/gatekey-test/installations/new"
INSTALLED = "4242"


def _leaks(text: str) -> bool:
    """Whether ``text`` holds any line of the app's private key."""
    lines = [line for line in APP_KEY.splitlines() if not line.startswith("-----")]
    return any(line in text for line in lines)


def _app(base: str) -> App:
    return App.model_validate(
        {
            "key": "gh-test",
            "name": "GitHub (test)",
            "docs_url": "https://docs.github.com/en/apps",
            "base_url": base,
            "builtin": False,
            "auth": [
                {
                    "kind": "github_app",
                    "github_app": {
                        "install_url": INSTALL_URL,
                        "app_jwt": {
                            "algorithm": "RS256",
                            "key": "private_key",
                            "claims": {"iss": "{client_id}"},
                            "lifetime_seconds": 600,
                            "issued_at_leeway_seconds": 60,
                        },
                        "token_url": f"{base}/app/installations/{{installation_id}}/access_tokens",
                        "installation_url": f"{base}/app/installations/{{installation_id}}",
                    },
                    "apply": [{"type": "bearer", "value": "{access_token}"}],
                    "test_request": {
                        "path": "/installation/repositories",
                        "account_label": ["repositories.0.owner.login"],
                    },
                }
            ],
        }
    )


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[GitHubApi, str]]:
    peer = GitHubApi()
    with github_api(peer) as base:
        yield peer, base


@pytest.fixture
def service(settings: Settings, api: tuple[GitHubApi, str]) -> Iterator[tuple[Service, Actor]]:
    peer, base = api
    peer.reset()
    peer.apps[CLIENT_ID] = pki.public_pem(APP_KEY)
    peer.installations[INSTALLED] = Installation(CLIENT_ID, "octo-org")
    local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
    runtime = open_runtime(local, migrate=False, extra_apps=[_app(base)])
    project, _ = runtime.service.system.bootstrap()
    actor = Actor.operator(project.id)
    runtime.service.oauth_clients.register(
        actor, app="gh-test", client_id=CLIENT_ID, client_secret=APP_KEY
    )
    yield runtime.service, actor
    runtime.close()


def _travel(service: Service, peer: GitHubApi, delta: timedelta) -> None:
    """Move the service's clock and the API's by ``delta``."""
    real = service.context.clock
    service.context.clock = lambda: real() + delta
    peer.offset += delta


def _install(svc: Service, actor: Actor, installation: str = INSTALLED, **start: Any) -> Any:
    """Start an authorization, check its install URL, come back as GitHub does."""
    session = svc.authorizations.start(actor, **({"app": "gh-test"} | start))
    url = urlsplit(session.authorize_url or "")
    assert f"{url.scheme}://{url.netloc}{url.path}" == INSTALL_URL
    (state,) = parse_qs(url.query)["state"]
    params = {"installation_id": installation, "setup_action": "install", "state": state}
    return svc.system.complete_authorization(params)


def test_installing_the_app_makes_an_active_connection_the_proxy_and_resolve_use(
    service: tuple[Service, Actor], api: tuple[GitHubApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    done = _install(svc, actor)
    assert done.status == "succeeded", done.error_message
    made = svc.connections.get(actor, done.connection_id)
    assert made.status == "active" and made.account_label == "octo-org"
    assert made.config["installation_id"] == INSTALLED
    assert peer.issued == 1

    proxied = svc.proxy.send(actor, made.id, "GET", "/installation/repositories")
    assert proxied.status == 200 and b"octo-org/hello" in proxied.body
    creds = svc.credentials.resolve(actor, made.id)
    assert set(creds.fields) == {"access_token"}, "the installation token only"
    assert creds.fields["access_token"] in peer.tokens
    assert creds.expires_at is not None
    lasts = creds.expires_at - svc.context.clock()
    assert timedelta(minutes=59) < lasts <= timedelta(hours=1)
    assert peer.issued == 1, "a valid token is used as it is"


def test_the_app_jwt_is_what_github_asks_for(
    service: tuple[Service, Actor], api: tuple[GitHubApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    assert _install(svc, actor).status == "succeeded"

    (jwt, *_) = peer.jwts
    assert pyjwt.get_unverified_header(jwt)["alg"] == "RS256"
    claims = pyjwt.decode(jwt, pki.public_pem(APP_KEY), algorithms=["RS256"], issuer=CLIENT_ID)
    now = peer.now().timestamp()
    assert now - 70 <= claims["iat"] <= now - 50, "iat a minute in the past"
    assert claims["exp"] - now <= 600, "exp at most 10 minutes ahead"
    minted = next(h for h in peer.headers_seen if "X-Github-Api-Version" in h)
    assert minted["Accept"] == "application/vnd.github+json"
    assert minted["X-Github-Api-Version"] == "2022-11-28"


def test_a_token_falling_due_is_minted_again_once(
    service: tuple[Service, Actor], api: tuple[GitHubApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    made = _install(svc, actor)
    old = svc.credentials.resolve(actor, made.connection_id).fields["access_token"]
    _travel(svc, peer, timedelta(minutes=56))  # inside the 5-minute margin

    new = svc.credentials.resolve(actor, made.connection_id).fields["access_token"]
    again = svc.credentials.resolve(actor, made.connection_id).fields["access_token"]

    assert new != old and again == new
    assert peer.issued == 2
    assert (
        svc.proxy.send(actor, made.connection_id, "GET", "/installation/repositories").status == 200
    )


def test_a_deleted_installation_makes_the_connection_inactive_revoked_with_githubs_words(
    service: tuple[Service, Actor], api: tuple[GitHubApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    made = _install(svc, actor)
    del peer.installations[INSTALLED]
    _travel(svc, peer, timedelta(hours=2))

    with pytest.raises(ConnectionInactive) as caught:
        svc.credentials.resolve(actor, made.connection_id)

    assert "Not Found" in caught.value.message
    assert caught.value.hint == Hint("reconnect", {"id": made.connection_id, "app": "gh-test"})
    got = svc.connections.get(actor, made.connection_id)
    assert got.status == "inactive" and got.status_reason == "revoked"
    assert got.status_message is not None and "installation 4242" in got.status_message


def test_a_suspended_installation_is_revoked_too(
    service: tuple[Service, Actor], api: tuple[GitHubApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    made = _install(svc, actor)
    peer.installations[INSTALLED] = Installation(CLIENT_ID, "octo-org", suspended=True)
    _travel(svc, peer, timedelta(hours=2))

    with pytest.raises(ConnectionInactive) as caught:
        svc.credentials.resolve(actor, made.connection_id)
    assert "This installation has been suspended" in caught.value.message
    assert svc.connections.get(actor, made.connection_id).status_reason == "revoked"


def test_an_outage_is_retried_and_the_connection_stays_active(
    service: tuple[Service, Actor], api: tuple[GitHubApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    made = _install(svc, actor)
    old = svc.credentials.resolve(actor, made.connection_id).fields["access_token"]
    peer.outage = True
    _travel(svc, peer, timedelta(minutes=56))  # due, not yet expired

    assert svc.credentials.resolve(actor, made.connection_id).fields["access_token"] == old
    assert svc.connections.get(actor, made.connection_id).status == "active"

    _travel(svc, peer, timedelta(minutes=10))  # expired now: the outage is said, not Inactive
    with pytest.raises(ProviderUnavailable) as caught:
        svc.credentials.resolve(actor, made.connection_id)
    assert "503" in caught.value.message or "could not refresh" in caught.value.message
    assert svc.connections.get(actor, made.connection_id).status == "active"

    peer.outage = False
    _travel(svc, peer, timedelta(minutes=10))
    assert svc.credentials.resolve(actor, made.connection_id).fields["access_token"] != old


def test_an_installation_github_does_not_know_is_refused_and_nothing_is_stored(
    service: tuple[Service, Actor], api: tuple[GitHubApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    peer.installations["777"] = Installation("Iv23-another-app", "elsewhere")
    for unknown in ("999", "777"):  # none at all; another app's
        done = _install(svc, actor, installation=unknown)
        assert done.status == "failed" and done.error_code == "oauth_token_exchange_failed"
        assert done.error_message is not None and "Not Found" in done.error_message
    forged = _install(svc, actor, installation="../../user")
    assert forged.status == "failed" and forged.error_code == "authorization_failed"
    assert svc.connections.list(actor).items == []
    assert peer.issued == 0


def test_a_key_github_refuses_is_refused_at_install_with_githubs_words(
    service: tuple[Service, Actor], api: tuple[GitHubApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    peer.apps[CLIENT_ID] = pki.public_pem(OTHER_KEY)  # the app's key was rotated at GitHub
    done = _install(svc, actor)
    assert done.status == "failed" and done.error_code == "oauth_token_exchange_failed"
    assert done.error_message is not None
    assert "A JSON web token could not be decoded" in done.error_message
    assert svc.connections.list(actor).items == []


def test_a_reconnect_keeps_the_installation_and_the_connection(
    service: tuple[Service, Actor], api: tuple[GitHubApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    made = _install(svc, actor)
    session = svc.authorizations.start(actor, connection_id=made.connection_id)
    (state,) = parse_qs(urlsplit(session.authorize_url or "").query)["state"]
    # GitHub sends the person back after they changed the installation's repositories
    again = svc.system.complete_authorization({"state": state, "setup_action": "update"})

    assert again.status == "succeeded" and again.connection_id == made.connection_id
    got = svc.connections.get(actor, made.connection_id)
    assert got.status == "active" and got.config["installation_id"] == INSTALLED
    assert len(svc.connections.list(actor).items) == 1
    assert peer.issued == 2


def test_a_connection_cannot_be_made_with_fields(service: tuple[Service, Actor]) -> None:
    svc, actor = service
    with pytest.raises(InvalidInput) as caught:
        svc.connections.create(actor, app="gh-test", name="x", fields={})
    assert caught.value.code in ("invalid_input", "invalid_fields")
    assert "start an authorization" in caught.value.message


def test_the_private_key_is_never_shown(
    service: tuple[Service, Actor],
    api: tuple[GitHubApi, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    svc, actor = service
    peer, _ = api
    caplog.set_level(logging.DEBUG)
    made = _install(svc, actor)
    failed = _install(svc, actor, installation="999")
    creds = svc.credentials.resolve(actor, made.connection_id)
    del peer.installations[INSTALLED]
    _travel(svc, peer, timedelta(hours=2))
    with pytest.raises(ConnectionInactive) as inactive:
        svc.credentials.resolve(actor, made.connection_id)

    shown = [
        str(inactive.value) + repr(inactive.value.details),
        failed.model_dump_json(),
        creds.model_dump_json(),
        svc.connections.list(actor).model_dump_json(),
        svc.connections.get(actor, made.connection_id).model_dump_json(),
        repr(svc.oauth_clients.list(actor)),
        caplog.text,
    ]
    for text in shown:
        assert not _leaks(text)

"""The ``jwt_bearer`` minter and ``private_key_jwt`` client authentication against a token
endpoint built on Authlib's server side (``tests.fakes.authlib_server``: its RFC 7523 grant
and client assertion checks, not ours): a service account's assertion (with and without a
delegated ``sub``, its scopes in the request's ``scope`` parameter as RFC 7523 section 2.1 has
them) and a client-credentials client's signed assertion get tokens, renewed when
they fall due; a key the server does not know, a user the account may not act for, an
assertion for another audience and an expired-on-arrival assertion (a clock far behind) store
nothing and name no key."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from gatekey.catalog.schema import App
from gatekey.errors import GatekeyError, InvalidFields
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes import pki
from tests.fakes.authlib_server import AuthlibServer, Client, authlib_server
from tests.fakes.rows import expire_token

KEY = pki.rsa_pem("authlib-service-account")
EC_KEY = pki.ec_pem("secp256r1", "authlib-daemon")
OTHER = pki.rsa_pem("authlib-unknown")
EMAIL = "robot@authlib-project.iam.test"
MAILBOX = "ops@acme.test"
DAEMON = "authlib-daemon"


def _apps(base: str, audience: str) -> list[App]:
    bearer = {
        "kind": "jwt_bearer",
        "fields": {
            "properties": {
                "key_file": {
                    "title": "Service account key (JSON)",
                    "secret": True,
                    "format": "json",
                    "json_values": {"client_email": "client_email", "private_key": "private_key"},
                }
            },
            "required": ["key_file"],
        },
        "config": {"properties": {"subject": {"title": "Act as"}}},
        "assertion": {
            "algorithm": "RS256",
            "key": "private_key",
            "claims": {
                "iss": "{client_email}",
                "sub": "{subject}",
                "aud": audience,
            },
            "account_label": "{client_email}",
        },
        "oauth2": {"token_url": f"{base}/token", "default_scopes": ["mail.read"]},
        "apply": [{"type": "bearer", "value": "{access_token}"}],
        "test_request": {"path": "/me", "account_label": ["sub"]},
    }
    daemon = {
        "kind": "oauth2_client_credentials",
        "fields": {
            "properties": {
                "client_id": {"title": "Client ID"},
                "private_key": {"title": "Private key", "secret": True, "format": "private_key"},
            },
            "required": ["client_id", "private_key"],
        },
        "oauth2": {
            "token_url": f"{base}/token",
            "default_scopes": ["api.read"],
            "client_auth_method": "private_key_jwt",
            "client_assertion": {"algorithm": "ES256"},
        },
        "apply": [{"type": "bearer", "value": "{access_token}"}],
        "test_request": {"path": "/me", "account_label": ["client_id"]},
    }
    return [
        App.model_validate(
            {
                "key": key,
                "name": key,
                "docs_url": "https://example.test/docs",
                "base_url": base,
                "builtin": False,
                "auth": [method],
            }
        )
        for key, method in (("sa", bearer), ("daemon", daemon))
    ]


@pytest.fixture(scope="module")
def peer() -> Iterator[AuthlibServer]:
    server = AuthlibServer()
    with authlib_server(server):
        yield server


@pytest.fixture
def service(settings: Settings, peer: AuthlibServer) -> Iterator[tuple[Service, Actor]]:
    peer.clients = {
        EMAIL: Client(
            EMAIL,
            pki.public_pem(KEY),
            delegated=frozenset({MAILBOX}),
            scopes=frozenset({"mail.read", "mail.send"}),
        ),
        DAEMON: Client(
            DAEMON,
            pki.public_pem(EC_KEY),
            grant="client_credentials",
            scopes=frozenset({"api.read"}),
        ),
    }
    peer.issued = 0
    local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
    apps = _apps(peer.base, peer.token_url)
    runtime = open_runtime(local, migrate=False, extra_apps=apps)
    project, _ = runtime.service.system.bootstrap()
    yield runtime.service, Actor.operator(project.id)
    runtime.close()


def _key_file(key: str = KEY, email: str = EMAIL) -> str:
    return json.dumps({"type": "service_account", "client_email": email, "private_key": key})


@pytest.mark.parametrize(("subject", "label"), [(None, EMAIL), (MAILBOX, MAILBOX)])
def test_a_service_account_gets_tokens_from_authlib_and_renews_them(
    service: tuple[Service, Actor], peer: AuthlibServer, subject: str | None, label: str
) -> None:
    svc, actor = service
    config = {"subject": subject} if subject else {}
    made = svc.connections.create(
        actor, app="sa", name="robot", fields={"key_file": _key_file()}, config=config
    )
    assert made.status == "active"
    assert made.account_label == (label if subject else EMAIL)
    first = svc.credentials.resolve(actor, made.id)
    held = peer.tokens[str(first.fields["access_token"])]
    assert held == {"client_id": EMAIL, "sub": subject or "", "scope": "mail.read"}
    assert not {"key_file", "private_key"} & set(first.fields)
    assert peer.issued == 1

    expire_token(svc, made.id)
    renewed = svc.credentials.resolve(actor, made.id)
    assert renewed.fields["access_token"] != first.fields["access_token"]
    assert peer.issued == 2
    proxied = svc.proxy.send(actor, made.id, "GET", "/me")
    assert proxied.status == 200 and json.loads(proxied.body)["client_id"] == EMAIL


def test_a_client_signing_its_own_assertion_gets_tokens_from_authlib(
    service: tuple[Service, Actor], peer: AuthlibServer
) -> None:
    svc, actor = service
    made = svc.connections.create(
        actor, app="daemon", name="d", fields={"client_id": DAEMON, "private_key": EC_KEY}
    )
    assert made.status == "active" and made.account_label == DAEMON
    first = svc.credentials.resolve(actor, made.id)
    assert peer.tokens[str(first.fields["access_token"])]["scope"] == "api.read"
    expire_token(svc, made.id)
    renewed = svc.credentials.resolve(actor, made.id)
    assert renewed.fields["access_token"] != first.fields["access_token"]
    assert len(peer.jtis) >= 2, "each assertion has a fresh jti, which Authlib checks"


def test_a_connection_asks_for_its_own_scopes(
    service: tuple[Service, Actor], peer: AuthlibServer
) -> None:
    svc, actor = service
    made = svc.connections.create(
        actor, app="sa", name="sender", fields={"key_file": _key_file()}, scopes=["mail.send"]
    )
    assert made.scopes == ["mail.send"]
    creds = svc.credentials.resolve(actor, made.id)
    assert peer.tokens[str(creds.fields["access_token"])]["scope"] == "mail.send"
    expire_token(svc, made.id)  # renewed with the scopes it holds, not the defaults
    renewed = svc.credentials.resolve(actor, made.id)
    assert peer.tokens[str(renewed.fields["access_token"])]["scope"] == "mail.send"
    daemon = svc.connections.create(
        actor,
        app="daemon",
        name="d",
        fields={"client_id": DAEMON, "private_key": EC_KEY},
        scopes=["api.read"],
    )
    assert daemon.scopes == ["api.read"]


@pytest.mark.parametrize("scopes", [["ok", ""], "mail.send", [1]])
def test_scopes_that_are_not_a_list_of_names_store_nothing(
    service: tuple[Service, Actor], peer: AuthlibServer, scopes: object
) -> None:
    svc, actor = service
    with pytest.raises(InvalidFields) as refused:
        svc.connections.create(
            actor, app="sa", name="x", fields={"key_file": _key_file()}, scopes=scopes
        )
    assert refused.value.details["errors"][0]["field"] == "scopes"
    assert svc.connections.list(actor).items == [] and peer.issued == 0


def _refused(svc: Service, actor: Actor, app: str, **create: Any) -> GatekeyError:
    with pytest.raises(GatekeyError) as refused:
        svc.connections.create(actor, app=app, name="x", **create)
    assert svc.connections.list(actor).items == []
    text = f"{refused.value} {refused.value.details}"
    for key in (KEY, EC_KEY, OTHER):
        assert key.splitlines()[1] not in text
    return refused.value


def test_what_authlib_refuses_stores_nothing(
    service: tuple[Service, Actor], peer: AuthlibServer
) -> None:
    svc, actor = service
    unknown = _refused(svc, actor, "sa", fields={"key_file": _key_file(OTHER)})
    assert unknown.code == "grant_revoked" and "invalid_grant" in str(unknown)
    stranger = _refused(
        svc, actor, "sa", fields={"key_file": _key_file()}, config={"subject": "boss@acme.test"}
    )
    assert stranger.code == "invalid_credentials"
    assert "no permission to access user data" in str(stranger), "Authlib's words"
    wrong_key = _refused(
        svc,
        actor,
        "daemon",
        fields={"client_id": DAEMON, "private_key": pki.ec_pem("secp256r1", "x")},
    )
    assert wrong_key.code == "oauth_client_rejected" and "invalid_client" in str(wrong_key)
    assert peer.issued == 0


def test_an_assertion_for_another_audience_is_refused(
    settings: Settings, peer: AuthlibServer, service: tuple[Service, Actor]
) -> None:
    local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
    apps = _apps(peer.base, "https://oauth2.elsewhere.test/token")
    runtime = open_runtime(local, migrate=False, extra_apps=apps)
    try:
        project = runtime.service.system.create_project("other-audience")
        actor = Actor.operator(project.id)
        refused = _refused(runtime.service, actor, "sa", fields={"key_file": _key_file()})
        assert refused.code == "grant_revoked" and "Invalid claim: 'aud'" in str(refused)
    finally:
        runtime.close()
    assert peer.issued == 0


def test_a_clock_far_behind_makes_every_assertion_expired(
    service: tuple[Service, Actor], peer: AuthlibServer
) -> None:
    svc, actor = service
    real = svc.context.clock
    svc.context.clock = lambda: real() - dt.timedelta(hours=3)
    refused = _refused(svc, actor, "sa", fields={"key_file": _key_file()})
    assert refused.code == "grant_revoked" and "The token is expired" in str(refused)
    assert peer.issued == 0

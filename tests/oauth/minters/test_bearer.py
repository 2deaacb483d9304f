"""The ``jwt_bearer`` minter through the service, against a token endpoint that checks every
assertion with PyJWT as Google's does for service accounts (``tests.fakes.assertion_server``):
a service-account JSON key (and a mailbox to act as) makes an active connection whose token
the proxy uses; the token is traded for again when it falls due, once; Salesforce's
``instance_url`` is kept as config; a key the server refuses, or a mailbox the account may not
act as, makes nothing and quotes the server; an outage is retried, never Inactive; the private
key is never handed out or shown."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from gatekey.catalog.schema import App
from gatekey.errors import (
    ConnectionInactive,
    CredentialsRejected,
    GrantRevoked,
    InvalidFields,
    ProviderUnavailable,
)
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes import pki
from tests.fakes.assertion_server import Account, AssertionServer, assertion_server

EMAIL = "robot@project-1234.iam.gserviceaccount.com"
MAILBOX = "alice@example.test"
KEY = pki.rsa_pem("service-account")
SCOPES = ["https://www.googleapis.com/auth/gmail.send"]


def _key_file(key: str = KEY) -> str:
    """A service-account JSON key as Google's console downloads it."""
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "project-1234",
            "private_key_id": "4f1c0c2b",
            "private_key": key,
            "client_email": EMAIL,
            "client_id": "104912345678901234567",
            "token_uri": "https://oauth2.googleapis.com/token",
        }
    )


def _apps(base: str) -> list[App]:
    google: dict[str, Any] = {
        "kind": "jwt_bearer",
        "fields": {
            "properties": {
                "key_file": {
                    "title": "Service account key",
                    "secret": True,
                    "format": "json",
                    "json_values": {"client_email": "client_email", "private_key": "private_key"},
                }
            },
            "required": ["key_file"],
        },
        "config": {"properties": {"subject": {"title": "Mailbox to act as"}}},
        "assertion": {
            "algorithm": "RS256",
            "key": "private_key",
            "claims": {
                "iss": "{client_email}",
                "scope": "{scopes}",
                "aud": f"{base}/token",
                "sub": "{subject}",
            },
        },
        "oauth2": {"token_url": f"{base}/token", "default_scopes": SCOPES},
        "apply": [{"type": "bearer", "value": "{access_token}"}],
        "test_request": {"path": "/me", "account_label": ["emailAddress"]},
    }
    salesforce: dict[str, Any] = {
        "kind": "jwt_bearer",
        "fields": {
            "properties": {
                "private_key": {"title": "Private key", "secret": True, "format": "private_key"},
            },
            "required": ["private_key"],
        },
        "config": {
            "properties": {
                "consumer_key": {"title": "Consumer key"},
                "username": {"title": "User"},
            },
            "required": ["consumer_key", "username"],
        },
        "assertion": {
            "algorithm": "RS256",
            "key": "private_key",
            "claims": {"iss": "{consumer_key}", "sub": "{username}", "aud": f"{base}/token"},
            "lifetime_seconds": 180,
        },
        "oauth2": {"token_url": f"{base}/token", "token_response_config": ["instance_url"]},
        "apply": [{"type": "bearer", "value": "{access_token}"}],
        "test_request": {"path": "/me", "account_label": ["emailAddress"]},
    }
    # A ServiceNow endpoint that is not a public client: its id and secret in the body too.
    servicenow: dict[str, Any] = {
        **salesforce,
        "fields": {
            "properties": {
                **salesforce["fields"]["properties"],
                "client_secret": {"title": "Client secret", "secret": True},
            },
            "required": ["private_key"],
        },
        "config": {
            "properties": {"client_id": {"title": "Client ID"}, "user": {"title": "User"}},
            "required": ["client_id", "user"],
        },
        "assertion": {
            **salesforce["assertion"],
            "claims": {"iss": "{client_id}", "sub": "{user}", "aud": f"{base}/token"},
        },
        "oauth2": {"token_url": f"{base}/token", "client_auth_method": "client_secret_post"},
    }
    # Box's app config file: the client's id and secret and an encrypted key, all in one JSON.
    box_settings = "boxAppSettings"
    box: dict[str, Any] = {
        **servicenow,
        "fields": {
            "properties": {
                "config_file": {
                    "title": "App config JSON",
                    "secret": True,
                    "format": "json",
                    "json_values": {
                        "client_id": f"{box_settings}.clientID",
                        "client_secret": f"{box_settings}.clientSecret",
                        "private_key": f"{box_settings}.appAuth.privateKey",
                        "passphrase": f"{box_settings}.appAuth.passphrase",
                    },
                }
            },
            "required": ["config_file"],
        },
        "config": {"properties": {"user": {"title": "User"}}, "required": ["user"]},
        "assertion": {**servicenow["assertion"], "key_passphrase": "passphrase"},
    }
    # No test request names the account: the assertion's template does.
    unlabelled = {
        **google,
        "assertion": {**google["assertion"], "account_label": "{client_email} as {subject}"},
        "test_request": {"path": "/me"},
    }
    return [
        App.model_validate(
            {
                "key": key,
                "name": name,
                "docs_url": "https://example.test/docs",
                "base_url": base,
                "builtin": False,
                "auth": [method],
            }
        )
        for key, name, method in (
            ("gmail-sa", "Gmail (service account)", google),
            ("sf-jwt", "Salesforce (JWT)", salesforce),
            ("sheets-sa", "Sheets (service account)", unlabelled),
            ("sn-jwt", "ServiceNow (JWT)", servicenow),
            ("box-jwt", "Box (JWT)", box),
        )
    ]


@pytest.fixture(scope="module")
def server() -> Iterator[AssertionServer]:
    peer = AssertionServer()
    with assertion_server(peer):
        yield peer


@pytest.fixture
def service(settings: Settings, server: AssertionServer) -> Iterator[tuple[Service, Actor]]:
    server.accounts = {
        EMAIL: Account(pki.public_pem(KEY), delegated={MAILBOX}),
        "3MVG9.consumer": Account(pki.public_pem(KEY), delegated={"ops@acme.test"}),
    }
    server.offset, server.outage, server.grants, server.instance_url = timedelta(0), False, 0, None
    server.client = None
    local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
    runtime = open_runtime(local, migrate=False, extra_apps=_apps(server.base))
    project, _ = runtime.service.system.bootstrap()
    yield runtime.service, Actor.operator(project.id)
    runtime.close()


def test_the_account_is_named_by_the_assertion_template_when_no_answer_names_it(
    service: tuple[Service, Actor], server: AssertionServer
) -> None:
    svc, actor = service
    made = svc.connections.create(
        actor,
        app="sheets-sa",
        name="robot",
        fields={"key_file": _key_file()},
        config={"subject": MAILBOX},
    )
    assert made.status == "active" and made.account_label == f"{EMAIL} as {MAILBOX}"
    assert server.grants == 1


def _travel(service: Service, server: AssertionServer, delta: timedelta) -> None:
    real = service.context.clock
    service.context.clock = lambda: real() + delta
    server.offset += delta


@pytest.mark.parametrize(("subject", "label"), [(None, EMAIL), (MAILBOX, MAILBOX)])
def test_a_service_account_key_makes_an_active_connection(
    service: tuple[Service, Actor], server: AssertionServer, subject: str | None, label: str
) -> None:
    svc, actor = service
    config = {"subject": subject} if subject else {}
    made = svc.connections.create(
        actor, app="gmail-sa", name="robot", fields={"key_file": _key_file()}, config=config
    )
    assert made.status == "active" and made.account_label == label
    assert made.scopes == SCOPES
    assert server.grants == 1

    proxied = svc.proxy.send(actor, made.id, "GET", "/me")
    assert proxied.status == 200 and json.loads(proxied.body)["scope"] == SCOPES[0]
    creds = svc.credentials.resolve(actor, made.id)
    claims = server.tokens[creds.fields["access_token"]][0]
    assert claims["iss"] == EMAIL and claims.get("sub") == subject
    assert not {"key_file", "private_key"} & set(creds.fields)
    assert creds.expires_at is not None
    assert timedelta(minutes=58) < creds.expires_at - svc.context.clock() <= timedelta(hours=1)
    assert server.grants == 1, "a valid token is used as it is"


def test_a_token_falling_due_is_traded_for_again_once(
    service: tuple[Service, Actor], server: AssertionServer
) -> None:
    svc, actor = service
    made = svc.connections.create(actor, app="gmail-sa", name="r", fields={"key_file": _key_file()})
    old = svc.credentials.resolve(actor, made.id).fields["access_token"]
    _travel(svc, server, timedelta(minutes=57))

    new = svc.credentials.resolve(actor, made.id).fields["access_token"]
    assert new != old and svc.credentials.resolve(actor, made.id).fields["access_token"] == new
    assert server.grants == 2
    assert svc.proxy.send(actor, made.id, "GET", "/me").status == 200


def test_salesforce_keeps_the_instance_url_as_config(
    service: tuple[Service, Actor], server: AssertionServer
) -> None:
    svc, actor = service
    server.instance_url = "https://acme.my.salesforce.com"
    made = svc.connections.create(
        actor,
        app="sf-jwt",
        name="org",
        fields={"private_key": KEY},
        config={"consumer_key": "3MVG9.consumer", "username": "ops@acme.test"},
    )
    assert made.status == "active"
    assert made.config["instance_url"] == "https://acme.my.salesforce.com"
    creds = svc.credentials.resolve(actor, made.id)
    claims = server.tokens[creds.fields["access_token"]][0]
    assert claims["sub"] == "ops@acme.test" and claims["exp"] - claims["iat"] == 180
    assert "scope" not in claims, "no scopes asked, no scope claim"


SN_SECRET = "servicenow-client-secret-CANARY-40b2"


def test_a_key_file_with_the_client_secret_and_an_encrypted_key_mints(
    service: tuple[Service, Actor], server: AssertionServer, caplog: pytest.LogCaptureFixture
) -> None:
    svc, actor = service
    server.client = ("3MVG9.consumer", SN_SECRET)
    caplog.set_level(logging.DEBUG)
    encrypted = serialization.load_pem_private_key(KEY.encode(), password=None).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"box-passphrase-CANARY"),
    )
    app_auth = {"privateKey": encrypted.decode(), "passphrase": "box-passphrase-CANARY"}
    settings = {"clientID": "3MVG9.consumer", "clientSecret": SN_SECRET, "appAuth": app_auth}
    fields = {"config_file": json.dumps({"boxAppSettings": settings})}
    config = {"user": "ops@acme.test"}
    no_id = {"config_file": json.dumps({"boxAppSettings": {**settings, "clientID": ""}})}
    with pytest.raises(InvalidFields, match=r"lacks boxAppSettings\.clientID"):
        svc.connections.create(actor, app="box-jwt", name="box", fields=no_id, config=config)
    made = svc.connections.create(actor, app="box-jwt", name="box", fields=fields, config=config)
    assert made.status == "active" and server.grants == 1
    assert svc.proxy.send(actor, made.id, "GET", "/me").status == 200
    shown = repr(svc.connections.get(actor, made.id)) + repr(svc.connections.list(actor))
    assert SN_SECRET not in shown + caplog.text and "CANARY" not in shown + caplog.text


def test_a_confidential_client_sends_its_secret_with_the_assertion_at_every_grant(
    service: tuple[Service, Actor], server: AssertionServer, caplog: pytest.LogCaptureFixture
) -> None:
    svc, actor = service
    server.client = ("3MVG9.consumer", SN_SECRET)
    caplog.set_level(logging.DEBUG)
    config = {"client_id": "3MVG9.consumer", "user": "ops@acme.test"}
    with pytest.raises(CredentialsRejected, match="Client authentication failed"):
        svc.connections.create(
            actor, app="sn-jwt", name="sn", fields={"private_key": KEY}, config=config
        )
    assert svc.connections.list(actor).items == []
    fields = {"private_key": KEY, "client_secret": SN_SECRET}
    made = svc.connections.create(actor, app="sn-jwt", name="sn", fields=fields, config=config)
    assert made.status == "active" and server.grants == 1
    _travel(svc, server, timedelta(minutes=61))
    assert svc.proxy.send(actor, made.id, "GET", "/me").status == 200
    assert server.grants == 2, "renewed with the secret too"
    shown = repr(svc.connections.get(actor, made.id)) + repr(svc.connections.list(actor))
    assert SN_SECRET not in shown + caplog.text


@pytest.mark.parametrize(
    ("fields", "config", "refusal", "words"),
    [
        (
            {"key_file": _key_file(pki.rsa_pem("another"))},
            {},
            GrantRevoked,
            "Invalid JWT Signature.",
        ),
        (
            {"key_file": _key_file()},
            {"subject": "eve@example.test"},
            CredentialsRejected,
            "(unauthorized_client): Client is unauthorized",
        ),
    ],
)
def test_a_refused_key_or_mailbox_makes_nothing_and_quotes_the_server(
    service: tuple[Service, Actor],
    caplog: pytest.LogCaptureFixture,
    fields: dict[str, str],
    config: dict[str, str],
    refusal: type[Exception],
    words: str,
) -> None:
    svc, actor = service
    caplog.set_level(logging.DEBUG)
    with pytest.raises(refusal) as refused:
        svc.connections.create(actor, app="gmail-sa", name="r", fields=fields, config=config)
    assert words in str(refused.value)
    assert svc.connections.list(actor).items == []
    body = KEY.splitlines()[1]
    assert body not in caplog.text + str(refused.value)


def test_a_key_refused_at_renewal_makes_the_connection_inactive_with_the_servers_words(
    service: tuple[Service, Actor], server: AssertionServer
) -> None:
    svc, actor = service
    made = svc.connections.create(actor, app="gmail-sa", name="r", fields={"key_file": _key_file()})
    server.accounts[EMAIL] = Account(pki.public_pem(pki.rsa_pem("rotated")))  # key deleted
    _travel(svc, server, timedelta(minutes=57))
    with pytest.raises(ConnectionInactive) as inactive:
        svc.credentials.resolve(actor, made.id)
    assert "Invalid JWT Signature." in str(inactive.value)
    shown = svc.connections.get(actor, made.id)
    assert shown.status == "inactive" and shown.status_reason == "revoked"
    assert "Invalid JWT Signature." in (shown.status_message or "")


def test_an_outage_is_retried_and_never_inactive(
    service: tuple[Service, Actor], server: AssertionServer
) -> None:
    svc, actor = service
    made = svc.connections.create(actor, app="gmail-sa", name="r", fields={"key_file": _key_file()})
    server.outage = True
    _travel(svc, server, timedelta(minutes=61))  # expired: nothing to fall back on
    with pytest.raises(ProviderUnavailable):
        svc.credentials.resolve(actor, made.id)
    assert svc.connections.get(actor, made.id).status == "active"
    server.outage = False
    _travel(svc, server, timedelta(seconds=30))  # past the refresher's backoff
    assert svc.proxy.send(actor, made.id, "GET", "/me").status == 200


def test_the_key_is_never_returned(service: tuple[Service, Actor]) -> None:
    svc, actor = service
    made = svc.connections.create(actor, app="gmail-sa", name="r", fields={"key_file": _key_file()})
    shown = repr(svc.connections.get(actor, made.id)) + repr(svc.connections.list(actor))
    assert KEY.splitlines()[1] not in shown and "private_key_id" not in shown

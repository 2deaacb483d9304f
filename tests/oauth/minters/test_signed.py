"""The ``signed_jwt`` minter through the service, against an API that checks each token with
PyJWT (``tests.fakes.jwt_api``): App Store Connect's ES256 token with ``kid`` and its 20-minute
cap, Snowflake's RS256 key-pair token (upper-cased, fingerprinted issuer and its token-type
header) and Ghost Admin's HS256 token from an ``id:secret`` key. The token is signed again when
it falls due, once; a key the API does not know makes nothing; a key that is not one is
refused naming its field; the key itself is never handed out or shown."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import jwt as pyjwt
import pytest

from gatekey.catalog.schema import App
from gatekey.errors import CredentialsRejected, InvalidFields
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes import pki
from tests.fakes.jwt_api import JwtApi, Verifier, jwt_api

APPLE_KEY = pki.ec_pem("secp256r1", "apple")
SNOWFLAKE_KEY = pki.rsa_pem("snowflake-kp")
GHOST_SECRET = "c0ffee" * 10 + "abcd"
GHOST_ID = "6489ad0c0c4f2b0001a1b2c3"
KEY_ID = "2X9R4HXF34"
OTHER_EC = pki.ec_pem("secp384r1", "x")


def _leaks(text: str) -> bool:
    """Whether ``text`` holds any line of a test key's body, or the Ghost secret."""
    bodies = [line for key in (APPLE_KEY, SNOWFLAKE_KEY, OTHER_EC) for line in key.splitlines()]
    return GHOST_SECRET[:16] in text or any(
        line in text for line in bodies if not line.startswith("-----")
    )


ISSUER = "57246542-96fe-1a63-e053-0824d011072a"


def _method(kind_section: dict[str, Any], fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "signed_jwt",
        "fields": {"properties": fields, "required": sorted(fields)},
        "signed_jwt": kind_section,
        "test_request": {"path": "/me", "account_label": ["iss"]},
        **extra,
    }


def _apps(base: str) -> list[App]:
    apple = _method(
        {
            "jwt": {
                "algorithm": "ES256",
                "key": "private_key",
                "headers": {"kid": "{key_id}"},
                "claims": {"iss": "{issuer_id}", "aud": "appstoreconnect-v1"},
                "lifetime_seconds": 1200,
            }
        },
        {
            "key_file": {
                "title": "Key file",
                "secret": True,
                "format": "json",
                "json_values": {"private_key": "private_key"},
            },
            "key_id": {"title": "Key ID"},
            "issuer_id": {"title": "Issuer ID"},
        },
        apply=[{"type": "bearer", "value": "{access_token}"}],
    )
    snowflake = _method(
        {
            "jwt": {
                "algorithm": "RS256",
                "key": "private_key",
                "uppercase": ["account", "user"],
                "claims": {
                    "iss": "{account}.{user}.{key_fingerprint}",
                    "sub": "{account}.{user}",
                },
                "lifetime_seconds": 3600,
            }
        },
        {
            "private_key": {"title": "Private key", "secret": True, "format": "private_key"},
            "account": {"title": "Account"},
            "user": {"title": "User"},
        },
        apply=[
            {"type": "bearer", "value": "{access_token}"},
            {
                "type": "header",
                "name": "X-Snowflake-Authorization-Token-Type",
                "value": "KEYPAIR_JWT",
            },
        ],
    )
    ghost = _method(
        {
            "jwt": {
                "algorithm": "HS256",
                "key": "admin_secret",
                "key_encoding": "hex",
                "headers": {"kid": "{admin_id}"},
                "claims": {"aud": "/admin/"},
                "lifetime_seconds": 300,
            }
        },
        {"admin_key": {"title": "Admin API key", "secret": True}},
        derive={
            "admin_id": {"source": "admin_key", "pattern": "^(?P<value>[0-9a-f]+):"},
            "admin_secret": {"source": "admin_key", "pattern": ":(?P<value>[0-9a-f]+)$"},
        },
        apply=[{"type": "header", "name": "Authorization", "value": "Ghost {access_token}"}],
    )
    ghost["test_request"] = {"path": "/me", "account_label": ["kid"]}
    return [
        App.model_validate(
            {
                "key": key,
                "name": key.title(),
                "docs_url": "https://example.test/docs",
                "base_url": base,
                "builtin": False,
                "auth": [method],
            }
        )
        for key, method in (("apple", apple), ("snowflake-kp", snowflake), ("ghost-admin", ghost))
    ]


FIELDS: dict[str, dict[str, str]] = {
    "apple": {
        "key_file": json.dumps({"private_key": APPLE_KEY}),
        "key_id": KEY_ID,
        "issuer_id": ISSUER,
    },
    "snowflake-kp": {"private_key": SNOWFLAKE_KEY, "account": "xy12345", "user": "jo"},
    "ghost-admin": {"admin_key": f"{GHOST_ID}:{GHOST_SECRET}"},
}


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[JwtApi, str]]:
    peer = JwtApi(headers={})
    with jwt_api(peer) as base:
        yield peer, base


@pytest.fixture
def service(settings: Settings, api: tuple[JwtApi, str]) -> Iterator[tuple[Service, Actor]]:
    peer, base = api
    fingerprint = pki.public_key_fingerprint(SNOWFLAKE_KEY)
    peer.by_kid = {
        KEY_ID: Verifier(pki.public_pem(APPLE_KEY), "ES256", "appstoreconnect-v1"),
        GHOST_ID: Verifier(bytes.fromhex(GHOST_SECRET), "HS256", "/admin/"),
    }
    peer.by_issuer = {
        f"XY12345.JO.{fingerprint}": Verifier(pki.public_pem(SNOWFLAKE_KEY), "RS256"),
    }
    peer.offset = timedelta(0)
    peer.seen.clear()
    local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
    runtime = open_runtime(local, migrate=False, extra_apps=_apps(base))
    project, _ = runtime.service.system.bootstrap()
    yield runtime.service, Actor.operator(project.id)
    runtime.close()


def _travel(service: Service, peer: JwtApi, delta: timedelta) -> None:
    real = service.context.clock
    service.context.clock = lambda: real() + delta
    peer.offset += delta


@pytest.mark.parametrize(
    ("app", "label", "lifetime"),
    [
        ("apple", ISSUER, 1200),
        ("snowflake-kp", "XY12345.JO.", 3600),
        ("ghost-admin", GHOST_ID, 300),
    ],
)
def test_a_signed_token_makes_an_active_connection_the_api_verifies(
    service: tuple[Service, Actor], api: tuple[JwtApi, str], app: str, label: str, lifetime: int
) -> None:
    svc, actor = service
    peer, _ = api
    made = svc.connections.create(actor, app=app, name="mine", fields=FIELDS[app])
    assert made.status == "active" and made.account_label is not None
    assert made.account_label.startswith(label)

    assert svc.proxy.send(actor, made.id, "GET", "/me").status == 200
    creds = svc.credentials.resolve(actor, made.id)
    token = creds.fields["access_token"]
    assert token in peer.seen
    assert set(creds.fields) & {"key_file", "private_key", "admin_key", "admin_secret"} == set()
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == lifetime
    assert creds.expires_at is not None
    assert int(creds.expires_at.timestamp()) == claims["exp"]


def test_snowflake_requests_carry_the_token_type_header(
    service: tuple[Service, Actor], api: tuple[JwtApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    peer.headers = {"X-Snowflake-Authorization-Token-Type": "KEYPAIR_JWT"}
    try:
        made = svc.connections.create(
            actor, app="snowflake-kp", name="wh", fields=FIELDS["snowflake-kp"]
        )
        assert svc.proxy.send(actor, made.id, "GET", "/me").status == 200
    finally:
        peer.headers = {}


def test_a_token_falling_due_is_signed_again_once(
    service: tuple[Service, Actor], api: tuple[JwtApi, str]
) -> None:
    svc, actor = service
    peer, _ = api
    made = svc.connections.create(actor, app="apple", name="mine", fields=FIELDS["apple"])
    old = svc.credentials.resolve(actor, made.id).fields["access_token"]
    _travel(svc, peer, timedelta(minutes=16))  # inside the 5-minute margin of 20 minutes

    new = svc.credentials.resolve(actor, made.id).fields["access_token"]
    again = svc.credentials.resolve(actor, made.id).fields["access_token"]
    assert new != old and again == new
    assert svc.proxy.send(actor, made.id, "GET", "/me").status == 200
    _travel(svc, peer, timedelta(minutes=30))  # past expiry: the proxy signs before sending
    assert svc.proxy.send(actor, made.id, "GET", "/me").status == 200


def test_a_key_the_api_does_not_know_makes_nothing(
    service: tuple[Service, Actor], caplog: pytest.LogCaptureFixture
) -> None:
    svc, actor = service
    other = pki.ec_pem("secp256r1", "someone-else")
    fields = {**FIELDS["apple"], "key_file": json.dumps({"private_key": other})}
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CredentialsRejected) as refused:
        svc.connections.create(actor, app="apple", name="mine", fields=fields)
    assert "JWT refused" in str(refused.value)
    assert svc.connections.list(actor).items == []
    assert not _leaks(caplog.text + str(refused.value))
    assert other.splitlines()[1] not in caplog.text + str(refused.value)


@pytest.mark.parametrize(
    ("app", "fields", "field"),
    [
        ("apple", {"key_file": json.dumps({"private_key": "not a key"})}, "fields.key_file"),
        ("apple", {"key_file": json.dumps({"private_key": SNOWFLAKE_KEY})}, "fields.key_file"),
        ("snowflake-kp", {"private_key": OTHER_EC}, "fields.private_key"),
        ("ghost-admin", {"admin_key": f"{GHOST_ID}:{GHOST_SECRET}"[:-1] + "g"}, "fields.admin_key"),
    ],
)
def test_a_key_that_is_not_one_for_the_algorithm_is_refused_naming_its_field(
    service: tuple[Service, Actor], app: str, fields: dict[str, str], field: str
) -> None:
    svc, actor = service
    with pytest.raises(InvalidFields) as refused:
        svc.connections.create(actor, app=app, name="bad", fields={**FIELDS[app], **fields})
    assert [e["field"] for e in refused.value.details["errors"]] == [field]
    assert not _leaks(str(refused.value) + repr(refused.value.details))
    assert svc.connections.list(actor).items == []


def test_the_key_is_never_returned(service: tuple[Service, Actor]) -> None:
    svc, actor = service
    made = svc.connections.create(
        actor, app="snowflake-kp", name="wh", fields=FIELDS["snowflake-kp"]
    )
    shown = repr(svc.connections.get(actor, made.id)) + repr(svc.connections.list(actor))
    assert not _leaks(shown)

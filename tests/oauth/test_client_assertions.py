"""``private_key_jwt`` client authentication (RFC 7523 section 2.2): a client-credentials
connection whose fields are a client id, a private key and its certificate gets tokens from
panva's ``oidc-provider`` (which verifies the assertion against the client's JWK set) and
renews them; a key the server does not know makes nothing; the assertion carries what
Microsoft asks (``iss`` = ``sub`` = the client id, ``aud`` the token endpoint, a fresh ``jti``,
``x5t#S256`` the certificate's thumbprint, computed here with ``cryptography``)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx2
import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from sqlalchemy import update

from gatekey.catalog.schema import App
from gatekey.errors import OAuthClientRejected
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.provider import ProviderClient
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service, utcnow
from gatekey.settings import Settings
from gatekey.store.tables import connections
from tests.fakes import pki
from tests.fakes.oidc_server import OidcServer, running_oidc_server

KEY = pki.rsa_pem("client-assertion")
CERT = pki.self_signed(KEY, "gatekey-daemon")
KEY_CLIENT = "gatekey-daemon"


def _method(token_url: str, **assertion: Any) -> dict[str, Any]:
    return {
        "kind": "oauth2_client_credentials",
        "fields": {
            "properties": {
                "client_id": {"title": "Client ID"},
                "private_key": {"title": "Private key", "secret": True, "format": "private_key"},
                "certificate": {"title": "Certificate", "format": "certificate"},
            },
            "required": ["client_id", "private_key"],
        },
        "oauth2": {
            "token_url": token_url,
            "default_scopes": ["api:read"],
            "client_auth_method": "private_key_jwt",
            "client_assertion": {"certificate": "certificate", **assertion},
        },
        "apply": [{"type": "bearer", "value": "{access_token}"}],
    }


def _app(token_url: str) -> App:
    return App.model_validate(
        {
            "key": "daemon",
            "name": "Daemon API",
            "docs_url": "https://example.test/docs",
            "base_url": "https://example.test",
            "builtin": False,
            "auth": [_method(token_url)],
        }
    )


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcServer]:
    jwk = json.loads(pyjwt.algorithms.RSAAlgorithm.to_jwk(
        serialization.load_pem_private_key(KEY.encode(), password=None).public_key()  # type: ignore[arg-type]
    ))  # fmt: skip
    jwks = {"keys": [{**jwk, "alg": "RS256", "use": "sig"}]}
    with running_oidc_server(
        "http://127.0.0.1:9/unused", key_client={"client_id": KEY_CLIENT, "jwks": jwks}
    ) as server:
        yield server


@pytest.fixture
def service(settings: Settings, oidc: OidcServer) -> Iterator[tuple[Service, Actor]]:
    local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
    runtime = open_runtime(local, migrate=False, extra_apps=[_app(f"{oidc.issuer}/token")])
    project, _ = runtime.service.system.bootstrap()
    yield runtime.service, Actor.operator(project.id)
    runtime.close()


FIELDS = {"client_id": KEY_CLIENT, "private_key": KEY, "certificate": CERT}


def test_a_key_client_gets_tokens_from_oidc_provider_and_renews_them(
    service: tuple[Service, Actor],
) -> None:
    svc, actor = service
    made = svc.connections.create(actor, app="daemon", name="daemon", fields=FIELDS)
    assert made.status == "active" and made.scopes == ["api:read"]
    first = svc.credentials.resolve(actor, made.id)
    assert first.fields["access_token"] and not {"private_key"} & set(first.fields)

    with svc.context.db.write() as conn:  # the token runs out
        conn.execute(
            update(connections)
            .where(connections.c.id == made.id)
            .values(
                expires_at=utcnow() - dt.timedelta(seconds=5), version=connections.c.version + 1
            )
        )
    renewed = svc.credentials.resolve(actor, made.id)
    assert renewed.fields["access_token"] != first.fields["access_token"]
    assert renewed.expires_at is not None and renewed.expires_at > utcnow()


def test_a_key_the_server_does_not_know_makes_nothing(service: tuple[Service, Actor]) -> None:
    svc, actor = service
    other = pki.rsa_pem("not-registered")
    with pytest.raises(OAuthClientRejected) as refused:
        svc.connections.create(
            actor, app="daemon", name="d", fields={**FIELDS, "private_key": other}
        )
    assert "invalid_client" in str(refused.value)
    assert other.splitlines()[1] not in str(refused.value)
    assert svc.connections.list(actor).items == []


def _thumbprint(pem: str) -> str:
    cert = x509.load_pem_x509_certificate(pem.encode())
    return base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).decode().rstrip("=")


@pytest.mark.parametrize(
    ("key", "algorithm"), [(KEY, "RS256"), (pki.ec_pem("secp256r1", "ms"), "ES256")]
)
def test_the_assertion_is_what_microsoft_asks(key: str, algorithm: str) -> None:
    sent: list[dict[str, str]] = []

    def token_endpoint(request: httpx2.Request) -> httpx2.Response:
        sent.append(dict(parse_qsl(request.content.decode())))
        return httpx2.Response(200, json={"access_token": "t", "expires_in": 3599})

    token_url = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    method = App.model_validate(
        {
            "key": "ms",
            "name": "MS",
            "docs_url": "https://example.test",
            "base_url": "https://example.test",
            "builtin": False,
            "auth": [_method(token_url, algorithm=algorithm)],
        }
    ).auth[0]
    assert method.oauth2 is not None
    cert = pki.self_signed(key, "ms")
    provider = ProviderClient(
        httpx2.MockTransport(token_endpoint), timeout=5, clock=lambda: dt.datetime.now(dt.UTC)
    )
    for _ in range(2):
        provider.client_credentials(
            method.oauth2,
            {},
            ClientCredentials("app-guid", key, certificate=cert),
            app_name="MS",
            scopes=["https://graph.microsoft.com/.default"],
        )
    first, second = sent
    assert (
        first["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    )
    assert "client_secret" not in first
    header = pyjwt.get_unverified_header(first["client_assertion"])
    assert header["alg"] == algorithm and header["x5t#S256"] == _thumbprint(cert)
    claims = pyjwt.decode(
        first["client_assertion"], pki.public_pem(key), algorithms=[algorithm], audience=token_url
    )
    assert claims["iss"] == claims["sub"] == "app-guid"
    assert claims["exp"] - claims["iat"] == 300
    again = pyjwt.decode(second["client_assertion"], options={"verify_signature": False})
    assert again["jti"] != claims["jti"], "a fresh jti for every request"

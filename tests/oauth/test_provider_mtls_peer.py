"""RFC 8705 against an authorization server nobody here wrote: panva's ``oidc-provider`` on
HTTPS (``tests/fakes/oidc_mtls_provider.mjs``) with ``tls_client_auth`` (a certificate from the
test CA, its subject DN registered) and ``self_signed_tls_client_auth`` (a self-signed
certificate registered in the client's JWK set), binding every token to the certificate. The
API the token is for (``tests.fakes.mtls_server``) introspects it there (RFC 7662) and takes it
only with the certificate it is bound to.

Gatekey authenticates with the certificate alone (no secret travels), gets bound tokens,
proxies with the same certificate and renews them; a certificate the server does not know for
the client stores nothing."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from joserfc.jwk import ECKey

from gatekey.catalog.schema import App
from gatekey.errors import OAuthClientRejected
from gatekey.models import Credentials
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes import pki
from tests.fakes.mtls_server import (
    MtlsApi,
    certificate_client,
    mtls_api,
    pem_thumbprint,
    trust_test_ca,
)
from tests.fakes.oidc_server import ROOT, node_server
from tests.fakes.rows import expire_token

SCRIPT = ROOT / "tests" / "fakes" / "oidc_mtls_provider.mjs"
CA_CLIENT = pki.issued("gatekey-ca-client", server=False)
STRANGER = pki.issued("gatekey-stranger", server=False)
SELF_KEY = pki.ec_pem(tag="self-signed-client")
SELF_CERT = pki.self_signed(SELF_KEY, "gatekey-self-signed")
RESOURCE = ("resource-server", "resource-secret-CANARY-5d1e")


def _jwks(cert: str) -> dict[str, Any]:
    key = ECKey.import_key(SELF_KEY).as_dict(private=False)
    der = ssl.PEM_cert_to_DER_cert(cert)
    return {"keys": [{**key, "use": "sig", "x5c": [base64.b64encode(der).decode()]}]}


def _clients() -> list[dict[str, Any]]:
    machine = {
        "grant_types": ["client_credentials"],
        "response_types": [],
        "redirect_uris": [],
        "tls_client_certificate_bound_access_tokens": True,
        "scope": "api:read",
    }
    return [
        {
            **machine,
            "client_id": "gatekey-ca-client",
            "token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_subject_dn": "CN=gatekey-ca-client",
        },
        {
            **machine,
            "client_id": "gatekey-self-signed",
            "token_endpoint_auth_method": "self_signed_tls_client_auth",
            "jwks": _jwks(SELF_CERT),
        },
        {
            "client_id": RESOURCE[0],
            "client_secret": RESOURCE[1],
            "grant_types": [],
            "response_types": [],
            "redirect_uris": [],
        },
    ]


@pytest.fixture(scope="module")
def ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trust_test_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    server = pki.issued("oidc-mtls", server=True)
    config = {"cert": server.cert, "key": server.key, "ca": pki.authority().cert}
    with node_server(SCRIPT, {**config, "clients": _clients()}) as ready:
        yield str(ready["issuer"])


@pytest.fixture(scope="module")
def api(issuer: str, ca_bundle: Path) -> Iterator[tuple[str, MtlsApi]]:
    def introspect(token: str) -> dict[str, Any]:
        trusted = ssl.create_default_context(cafile=str(ca_bundle))
        with httpx2.Client(verify=trusted, trust_env=False, timeout=10) as http:
            answer = http.post(
                f"{issuer}/token/introspection", data={"token": token}, auth=RESOURCE
            )
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    with mtls_api("no-api-key-here", introspect=introspect, trusted=[SELF_CERT]) as served:
        yield served


def _app(issuer: str, base: str, key: str, auth_method: str) -> App:
    token_url = f"{issuer}/token"
    return App.model_validate(
        certificate_client(key, base, token_url, auth_method, default_scopes=["api:read"])
    )


@pytest.fixture
def service(
    settings: Settings,
    issuer: str,
    api: tuple[str, MtlsApi],
    ca_bundle: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Service, Actor]]:
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_bundle))
    local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
    apps = [
        _app(issuer, api[0], "bank-ca", "tls_client_auth"),
        _app(issuer, api[0], "bank-self", "self_signed_tls_client_auth"),
    ]
    runtime = open_runtime(local, migrate=False, extra_apps=apps)
    project, _ = runtime.service.system.bootstrap()
    yield runtime.service, Actor.operator(project.id)
    runtime.close()


CASES = [
    ("bank-ca", "gatekey-ca-client", CA_CLIENT.cert, CA_CLIENT.key),
    ("bank-self", "gatekey-self-signed", SELF_CERT, SELF_KEY),
]


def _token(creds: Credentials) -> str:
    return creds.headers["Authorization"].removeprefix("Bearer ")


@pytest.mark.parametrize(("app", "client_id", "cert", "key"), CASES, ids=["ca", "self-signed"])
def test_oidc_provider_binds_the_token_to_the_certificate_gatekey_presents(
    service: tuple[Service, Actor],
    api: tuple[str, MtlsApi],
    app: str,
    client_id: str,
    cert: str,
    key: str,
) -> None:
    svc, actor = service
    introspect = api[1].introspect
    assert introspect is not None
    fields = {"client_id": client_id, "client_certificate": cert, "client_key": key}
    made = svc.connections.create(actor, app=app, name="bank", fields=fields)
    assert made.status == "active" and made.account_label == client_id
    assert made.scopes == ["api:read"]
    first = _token(svc.credentials.resolve(actor, made.id))
    seen = introspect(first)
    assert seen["active"] is True and seen["client_id"] == client_id
    assert seen["cnf"] == {"x5t#S256": pem_thumbprint(cert)}
    assert svc.proxy.send(actor, made.id, "GET", "/me").status == 200

    expire_token(svc, made.id)
    renewed = _token(svc.credentials.resolve(actor, made.id))
    assert renewed != first
    assert introspect(renewed)["cnf"] == {"x5t#S256": pem_thumbprint(cert)}
    assert svc.proxy.send(actor, made.id, "GET", "/me").status == 200


@pytest.mark.parametrize(
    ("app", "client_id", "cert", "key"),
    [
        ("bank-ca", "gatekey-ca-client", STRANGER.cert, STRANGER.key),
        ("bank-self", "gatekey-self-signed", CA_CLIENT.cert, CA_CLIENT.key),
    ],
    ids=["another-subject", "unregistered"],
)
def test_a_certificate_the_server_does_not_know_for_the_client_stores_nothing(
    service: tuple[Service, Actor], app: str, client_id: str, cert: str, key: str
) -> None:
    svc, actor = service
    fields = {"client_id": client_id, "client_certificate": cert, "client_key": key}
    with pytest.raises(OAuthClientRejected) as refused:
        svc.connections.create(actor, app=app, name="bank", fields=fields)
    assert str(refused.value).endswith("check its client id and certificate")
    assert key.splitlines()[1] not in str(refused.value)
    assert svc.connections.list(actor).items == []

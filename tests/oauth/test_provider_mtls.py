"""Client certificates on token requests (RFC 8705), against a token endpoint and API that
require one from their CA (``tests.fakes.mtls_server``): a client-credentials connection whose
fields hold a client id, a certificate and its key authenticates with ``tls_client_auth`` (no
secret), gets a token bound to that certificate, and proxies with the same certificate; the
token is renewed the same way when it falls due; the bound token is useless with another
certificate; a certificate that is not the key's stores nothing; recipes that cannot present
one on token requests are refused by the schema."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pydantic
import pytest

from gatekey import signers
from gatekey.catalog.schema import App
from gatekey.errors import InvalidFields, OAuthClientRejected
from gatekey.models import Credentials
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.provider import ProviderClient
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service, utcnow
from gatekey.settings import Settings
from gatekey.signers import tls
from gatekey.signing import ClientTls
from tests.fakes import pki
from tests.fakes.mtls_server import MtlsApi, certificate_client, mtls_api, trust_test_ca
from tests.fakes.rows import expire_token

CLIENT = pki.issued("gatekey-bank-client", server=False)
OTHER = pki.issued("someone-else", server=False)
FIELDS = {
    "client_id": "gatekey-bank-client",
    "client_certificate": CLIENT.cert,
    "client_key": CLIENT.key,
}


def _definition(base: str, **oauth2: Any) -> dict[str, Any]:
    return certificate_client("bank-cc", base, f"{base}/token", "tls_client_auth", **oauth2)


@pytest.fixture(scope="module")
def bank() -> Iterator[tuple[str, MtlsApi]]:
    with mtls_api("an-api-key-nobody-uses") as served:
        yield served


@pytest.fixture
def service(
    settings: Settings,
    bank: tuple[str, MtlsApi],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Service, Actor]]:
    monkeypatch.setenv("SSL_CERT_FILE", str(trust_test_ca(tmp_path)))
    local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
    app = App.model_validate(_definition(bank[0]))
    runtime = open_runtime(local, migrate=False, extra_apps=[app])
    project, _ = runtime.service.system.bootstrap()
    yield runtime.service, Actor.operator(project.id)
    runtime.close()


def _token(creds: Credentials) -> str:
    return creds.headers["Authorization"].removeprefix("Bearer ")


def test_a_certificate_bound_token_is_fetched_used_and_renewed(
    service: tuple[Service, Actor], bank: tuple[str, MtlsApi]
) -> None:
    svc, actor = service
    api = bank[1]
    before = api.token_requests
    made = svc.connections.create(actor, app="bank-cc", name="bank", fields=FIELDS)
    assert made.status == "active" and made.account_label == "gatekey-bank-client"
    assert api.token_requests == before + 1
    proxied = svc.proxy.send(actor, made.id, "GET", "/me")
    assert proxied.status == 200, proxied.body
    first = svc.credentials.resolve(actor, made.id)
    assert _token(first) in api.issued

    expire_token(svc, made.id)
    renewed = svc.credentials.resolve(actor, made.id)
    assert api.token_requests == before + 2
    assert _token(renewed) != _token(first)
    assert api.issued[_token(renewed)] == api.issued[_token(first)]
    assert svc.proxy.send(actor, made.id, "GET", "/me").status == 200


def test_the_executor_presents_the_same_certificate_and_no_other_will_do(
    service: tuple[Service, Actor],
) -> None:
    svc, actor = service
    made = svc.connections.create(actor, app="bank-cc", name="bank", fields=FIELDS)
    creds = svc.credentials.resolve(actor, made.id)
    context = signers.tls_context(creds)
    assert context is not None
    with httpx2.Client(verify=context, trust_env=False) as http:
        answer = http.get(creds.base_url + "/me", auth=signers.httpx_auth(creds))
    assert answer.json() == {"client": "gatekey-bank-client"}

    other = tls.context(ClientTls(certificate=OTHER.cert, private_key=OTHER.key))
    with httpx2.Client(verify=other, trust_env=False) as http:
        refused = http.get(creds.base_url + "/me", auth=signers.httpx_auth(creds))
    assert refused.status_code == 401
    assert refused.json()["error_description"] == "the token is bound to another certificate"


def test_a_certificate_of_another_client_is_refused_and_nothing_is_stored(
    service: tuple[Service, Actor],
) -> None:
    svc, actor = service
    fields = {**FIELDS, "client_certificate": OTHER.cert, "client_key": OTHER.key}
    with pytest.raises(OAuthClientRejected) as refused:
        svc.connections.create(actor, app="bank-cc", name="bank", fields=fields)
    assert "the certificate is not this client's" in str(refused.value)
    assert OTHER.key.splitlines()[1] not in str(refused.value)
    assert svc.connections.list(actor).items == []


def test_a_certificate_that_is_not_the_keys_names_the_field(
    service: tuple[Service, Actor],
) -> None:
    svc, actor = service
    with pytest.raises(InvalidFields) as refused:
        svc.connections.create(
            actor, app="bank-cc", name="bank", fields={**FIELDS, "client_key": OTHER.key}
        )
    assert [e["field"] for e in refused.value.details["errors"]] == ["fields.client_certificate"]
    assert svc.connections.list(actor).items == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"client_certificate": None}, "tls_client_auth needs a client_certificate"),
        ({"client_certificate": {"token_requests": False}}, "needs a client_certificate"),
        ({"kind": "oauth2"}, "takes the certificate from the connection's fields"),
    ],
)
def test_recipes_that_cannot_present_a_certificate_on_token_requests_are_refused(
    change: dict[str, Any], words: str
) -> None:
    definition = _definition("https://bank.example.test")
    method = {**definition["auth"][0], **change}
    if change.get("kind") == "oauth2":
        method["oauth2"] = {**method["oauth2"], "authorization_url": "https://bank.example.test/a"}
    method = {k: v for k, v in method.items() if v is not None}
    assert App.model_validate(definition).auth[0].oauth2 is not None  # as given, it loads
    with pytest.raises(pydantic.ValidationError, match=words):
        App.model_validate({**definition, "auth": [method]})


def test_token_requests_with_a_certificate_go_through_the_transport_made_for_it() -> None:
    """Per identity, ``ProviderClient`` sends through the transport ``with_tls`` made for that
    certificate (kept: one per certificate), the shared transport without one; for
    ``jwt_bearer`` (an assertion grant) as for client credentials."""
    sent: list[tuple[str, str]] = []

    def answering(name: str) -> httpx2.MockTransport:
        def answer(request: httpx2.Request) -> httpx2.Response:
            sent.append((name, request.content.decode()))
            return httpx2.Response(200, json={"access_token": "t", "expires_in": 60})

        return httpx2.MockTransport(answer)

    made: list[ssl.SSLContext] = []

    def with_tls(context: ssl.SSLContext) -> httpx2.BaseTransport:
        made.append(context)
        return answering(f"tls-{len(made)}")

    provider = ProviderClient(answering("shared"), timeout=5, clock=utcnow, with_tls=with_tls)
    spec = App.model_validate(_definition("https://bank.example.test")).auth[0].oauth2
    assert spec is not None
    client = ClientCredentials("gatekey-bank-client", "")
    ours = ClientTls(certificate=CLIENT.cert, private_key=CLIENT.key)
    theirs = ClientTls(certificate=OTHER.cert, private_key=OTHER.key)
    for identity in (ours, ours, theirs, None):
        provider.client_credentials(spec, {}, client, app_name="Bank", scopes=[], identity=identity)
    provider.assertion_grant(spec, {}, None, app_name="Bank", assertion="a.b.c", identity=ours)
    provider.close()
    assert [name for name, _ in sent] == ["tls-1", "tls-1", "tls-2", "shared", "tls-1"]
    assert len(made) == 2
    assert all("client_id=gatekey-bank-client" in body for _, body in sent[:4])
    assert all("client_secret" not in body for _, body in sent)

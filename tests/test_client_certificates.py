"""Client certificates (mutual TLS), against an API that requires one from its CA
(``tests.fakes.mtls_server``): a connection whose fields hold an API key, a certificate and
its key passes its test request and proxies through a client presenting the certificate
(kept for reuse); resolution hands the certificate to the executor, whose
``signers.tls_context`` (httpx) and ``signers.requests_adapter`` (requests) reach the API
too; without it the handshake fails; a certificate that is not the key's is refused naming
the field; the key is never shown."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from gatekey import signers
from gatekey.catalog.schema import App
from gatekey.errors import InvalidFields, ProviderUnavailable
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes import pki
from tests.fakes.mtls_server import mtls_server, trust_test_ca

API_KEY = "CANARY-mtls-api-key-71c2"
CLIENT = pki.issued("gatekey-bank-client", server=False)


def _app(base: str, key: str, *, certificate: bool = True) -> App:
    fields = {
        "api_key": {"title": "API key", "secret": True},
        "client_certificate": {"title": "Client certificate", "format": "certificate"},
        "client_key": {"title": "Client key", "secret": True, "format": "private_key"},
    }
    return App.model_validate(
        {
            "key": key,
            "name": f"Bank ({key})",
            "docs_url": "https://example.test/docs",
            "base_url": base,
            "builtin": False,
            "auth": [
                {
                    "kind": "api_key",
                    "fields": {"properties": fields, "required": sorted(fields)},
                    "apply": [{"type": "bearer", "value": "{api_key}"}],
                    **({"client_certificate": {}} if certificate else {}),
                    "test_request": {"path": "/me", "account_label": ["client"]},
                }
            ],
        }
    )


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with mtls_server(API_KEY) as url:
        yield url


@pytest.fixture
def service(
    settings: Settings, base: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Service, Actor]]:
    monkeypatch.setenv("SSL_CERT_FILE", str(trust_test_ca(tmp_path)))
    local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
    apps = [_app(base, "bank"), _app(base, "bank-no-cert", certificate=False)]
    runtime = open_runtime(local, migrate=False, extra_apps=apps)
    project, _ = runtime.service.system.bootstrap()
    yield runtime.service, Actor.operator(project.id)
    runtime.close()


FIELDS = {"api_key": API_KEY, "client_certificate": CLIENT.cert, "client_key": CLIENT.key}


def test_the_certificate_is_presented_on_the_test_request_and_the_proxy(
    service: tuple[Service, Actor],
) -> None:
    svc, actor = service
    made = svc.connections.create(actor, app="bank", name="bank", fields=FIELDS)
    assert made.status == "active" and made.account_label == "gatekey-bank-client"
    for _ in range(2):
        proxied = svc.proxy.send(actor, made.id, "GET", "/me")
        assert proxied.status == 200
        assert json.loads(proxied.body) == {"client": "gatekey-bank-client"}
    prober = svc.internals.prober
    assert prober.client_for(None) is prober.http
    creds = svc.credentials.resolve(actor, made.id)
    assert prober.client_for(creds.client_certificate) is prober.client_for(
        creds.client_certificate
    ), "one client per certificate, kept"


def test_resolution_hands_the_certificate_and_tls_context_presents_it(
    service: tuple[Service, Actor],
) -> None:
    svc, actor = service
    made = svc.connections.create(actor, app="bank", name="bank", fields=FIELDS)
    creds = svc.credentials.resolve(actor, made.id)
    assert creds.client_certificate is not None
    assert "PRIVATE" not in repr(creds.client_certificate)
    context = signers.tls_context(creds)
    assert context is not None
    with httpx2.Client(verify=context, trust_env=False) as http:
        answer = http.get(creds.base_url + "/me", auth=signers.httpx_auth(creds))
    assert answer.json() == {"client": "gatekey-bank-client"}


def test_without_the_certificate_the_handshake_fails(service: tuple[Service, Actor]) -> None:
    svc, actor = service
    fields = {"api_key": API_KEY, "client_certificate": CLIENT.cert, "client_key": CLIENT.key}
    with pytest.raises(ProviderUnavailable):
        svc.connections.create(actor, app="bank-no-cert", name="plain", fields=fields)
    assert svc.connections.list(actor).items == []


def test_a_certificate_that_is_not_the_keys_is_refused_naming_the_field(
    service: tuple[Service, Actor], caplog: pytest.LogCaptureFixture
) -> None:
    svc, actor = service
    other = pki.issued("someone-else", server=False)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidFields) as refused:
        svc.connections.create(
            actor, app="bank", name="bank", fields={**FIELDS, "client_certificate": other.cert}
        )
    assert [e["field"] for e in refused.value.details["errors"]] == ["fields.client_certificate"]
    body = CLIENT.key.splitlines()[1]
    assert body not in str(refused.value) + caplog.text
    assert svc.connections.list(actor).items == []


def test_the_key_is_never_shown(service: tuple[Service, Actor]) -> None:
    svc, actor = service
    made = svc.connections.create(actor, app="bank", name="bank", fields=FIELDS)
    shown = repr(svc.connections.get(actor, made.id)) + repr(svc.connections.list(actor))
    assert CLIENT.key.splitlines()[1] not in shown and API_KEY not in shown


def test_a_requests_session_presents_it_through_the_adapter(
    service: tuple[Service, Actor],
) -> None:
    requests = pytest.importorskip("requests")
    svc, actor = service
    made = svc.connections.create(actor, app="bank", name="bank", fields=FIELDS)
    creds = svc.credentials.resolve(actor, made.id)
    with requests.Session() as session:
        session.trust_env = False
        session.mount(creds.base_url, signers.requests_adapter(creds))
        answer = session.get(creds.base_url + "/me", auth=signers.requests_auth(creds))
        assert answer.json() == {"client": "gatekey-bank-client"}
    with requests.Session() as plain:
        plain.trust_env, plain.verify = False, os.environ["SSL_CERT_FILE"]  # trusts the server
        with pytest.raises(requests.exceptions.ConnectionError):
            plain.get(creds.base_url + "/me", auth=signers.requests_auth(creds))

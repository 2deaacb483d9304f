"""Three-legged OAuth 1.0a through the service, against a provider built on oauthlib's request
token, authorization, access token and resource endpoints (``tests.fakes.oauth1_provider``),
which check every signature, timestamp and nonce, for HMAC-SHA1, HMAC-SHA256 and RSA-SHA1:
starting asks for a temporary token with this deployment's callback; the person approves at
the provider and comes back with the verifier; the access token is sealed with the consumer's
credentials into an active connection named after the account, which the proxy and both
signers use. A declined consent, a forged verifier, a replayed callback and a consumer the
provider refuses store nothing; a reconnect keeps the ID; no secret is ever shown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
import requests

from gatekey import signers
from gatekey.catalog.schema import App
from gatekey.errors import InvalidFields, OAuthClientRejected, ProviderUnavailable, StateInvalid
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.signing import OAuth1Signing
from tests.fakes import pki
from tests.fakes.oauth1_provider import Keys, oauth1_server, three_legged_app

APP = "o1-local"


def _app(base_url: str, method: str, *, labelled: bool = True) -> App:
    definition = three_legged_app(
        APP,
        "OAuth1 (local peer)",
        base_url,
        test_request={"path": "/me", "account_label": ["user"]},
        signature_method=method,
        extra_authorize_params={"name": "Gatekey", "expiration": "never"},
        account_label=["screen_name"] if labelled else [],
    )
    return App.model_validate({**definition, "builtin": False})


@pytest.fixture(params=["HMAC-SHA1", "HMAC-SHA256", "RSA-SHA1"])
def signature_method(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def provider(settings: Settings, signature_method: str) -> Iterator[tuple[Keys, str]]:
    keys = Keys(callback=settings.callback_url)
    if signature_method == "RSA-SHA1":  # the OAuth client's secret is the PEM private key
        keys.consumer_secret = pki.rsa_pem("oauth1-consent")
        keys.rsa_public_key = pki.public_pem(keys.consumer_secret)
    with oauth1_server(keys) as base_url:
        yield keys, base_url


def _open(settings: Settings, app: App, keys: Keys) -> Any:
    local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
    runtime = open_runtime(local, migrate=False, extra_apps=[app])
    project, _ = runtime.service.system.bootstrap()
    actor = Actor.operator(project.id)
    runtime.service.oauth_clients.register(
        actor, app=APP, client_id=keys.consumer_key, client_secret=keys.consumer_secret
    )
    return runtime, actor


@pytest.fixture
def service(
    settings: Settings, provider: tuple[Keys, str], signature_method: str
) -> Iterator[tuple[Service, Actor]]:
    keys, base_url = provider
    runtime, actor = _open(settings, _app(base_url, signature_method), keys)
    yield runtime.service, actor
    runtime.close()


def _consent(svc: Service, actor: Actor, **start: Any) -> dict[str, str]:
    """Start, go to the provider's authorization page, and return what it redirects with."""
    session = svc.authorizations.start(actor, **({"app": APP} | start))
    url = urlsplit(session.authorize_url or "")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == "/oauth/authorize"
    assert query["name"] == "Gatekey" and query["expiration"] == "never"
    answer = httpx2.get(session.authorize_url or "")
    assert answer.status_code == 302
    back = urlsplit(answer.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == svc.authorizations.callback_url
    return {k: v[0] for k, v in parse_qs(back.query).items()}


def _texts(svc: Service, actor: Actor, connection_id: str) -> str:
    shown = [svc.connections.get(actor, connection_id), *svc.connections.list(actor).items]
    return " ".join(repr(item) for item in shown)


def test_consent_makes_an_active_connection_that_the_proxy_and_both_signers_sign_for(
    service: tuple[Service, Actor], provider: tuple[Keys, str]
) -> None:
    svc, actor = service
    keys, base_url = provider
    params = _consent(svc, actor)
    assert set(params) == {"oauth_token", "oauth_verifier"}
    done = svc.system.complete_authorization(params)
    assert done.status == "succeeded", done.error_message
    made = svc.connections.get(actor, done.connection_id)
    assert made.status == "active" and made.auth_kind == "oauth1"
    assert made.account_label == "ada_lovelace"
    assert made.config == {"user_id": "1815", "screen_name": "ada_lovelace"}
    assert len(keys.granted) == 1 and keys.requests == {}, "the request token is spent"

    for _ in range(2):  # a fresh nonce each time: the peer takes each once
        assert svc.proxy.send(actor, made.id, "GET", "/me").status == 200
    creds = svc.credentials.resolve(actor, made.id)
    assert isinstance(creds.signing, OAuth1Signing) and creds.fields == {}
    assert creds.signing.token in keys.granted
    assert creds.signing.consumer_key == keys.consumer_key
    assert httpx2.get(base_url + "/me", auth=signers.httpx_auth(creds)).status_code == 200
    answer = requests.get(base_url + "/me", auth=signers.requests_auth(creds), timeout=10)
    assert answer.status_code == 200

    shown = _texts(svc, actor, made.id)
    (token_secret,) = keys.granted.values()
    secret_lines = [line for line in keys.consumer_secret.splitlines() if "-----" not in line]
    assert token_secret not in shown and not any(line in shown for line in secret_lines)


def test_without_a_label_in_the_answer_the_signed_test_request_names_the_account(
    settings: Settings, provider: tuple[Keys, str], signature_method: str
) -> None:
    keys, base_url = provider
    runtime, actor = _open(settings, _app(base_url, signature_method, labelled=False), keys)
    try:
        done = runtime.service.system.complete_authorization(_consent(runtime.service, actor))
        assert done.status == "succeeded", done.error_message
        made = runtime.service.connections.get(actor, done.connection_id)
        assert made.account_label == "ada"
    finally:
        runtime.close()


def test_a_declined_consent_fails_the_session_and_stores_nothing(
    service: tuple[Service, Actor], provider: tuple[Keys, str]
) -> None:
    svc, actor = service
    keys, _ = provider
    keys.deny = True
    params = _consent(svc, actor)
    assert set(params) == {"denied"}
    done = svc.system.complete_authorization(params)
    assert done.status == "failed" and done.error_code == "oauth_access_denied"
    assert svc.connections.list(actor).items == [] and keys.granted == {}


def test_a_forged_verifier_is_refused_with_the_providers_answer_and_nothing_is_stored(
    service: tuple[Service, Actor], provider: tuple[Keys, str]
) -> None:
    svc, actor = service
    keys, _ = provider
    params = _consent(svc, actor) | {"oauth_verifier": "CANARYforgedVerifier0001"}
    done = svc.system.complete_authorization(params)
    assert done.status == "failed" and done.error_code == "oauth_token_exchange_failed"
    assert "CANARY" not in (done.error_message or "")
    assert "HTTP 401" in (done.error_message or "")
    assert svc.connections.list(actor).items == [] and keys.granted == {}


def test_a_replayed_or_unknown_token_names_no_session(service: tuple[Service, Actor]) -> None:
    svc, actor = service
    params = _consent(svc, actor)
    assert svc.system.complete_authorization(params).status == "succeeded"
    with pytest.raises(StateInvalid):
        svc.system.complete_authorization(params)
    with pytest.raises(StateInvalid):
        svc.system.complete_authorization({"oauth_token": "notOurs", "oauth_verifier": "x"})
    assert len(svc.connections.list(actor).items) == 1


def test_a_reconnect_keeps_the_connection_and_takes_the_new_token(
    service: tuple[Service, Actor], provider: tuple[Keys, str]
) -> None:
    svc, actor = service
    keys, _ = provider
    first = svc.system.complete_authorization(_consent(svc, actor))
    again = svc.system.complete_authorization(
        _consent(svc, actor, connection_id=first.connection_id)
    )
    assert again.status == "succeeded" and again.connection_id == first.connection_id
    assert len(keys.granted) == 2
    creds = svc.credentials.resolve(actor, first.connection_id)
    assert isinstance(creds.signing, OAuth1Signing)
    assert creds.signing.token == list(keys.granted)[-1]
    assert len(svc.connections.list(actor).items) == 1


def test_an_rsa_sha1_consumer_needs_an_rsa_private_key(
    settings: Settings, provider: tuple[Keys, str]
) -> None:
    _, base_url = provider
    local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
    runtime = open_runtime(local, migrate=False, extra_apps=[_app(base_url, "RSA-SHA1")])
    try:
        project, _ = runtime.service.system.bootstrap()
        actor = Actor.operator(project.id)
        for wrong in ("not-a-key", pki.ec_pem(tag="oauth1-ec")):
            with pytest.raises(InvalidFields) as caught:
                runtime.service.oauth_clients.register(
                    actor, app=APP, client_id="gatekeyConsumerKey0001", client_secret=wrong
                )
            assert caught.value.details["errors"][0]["field"] == "client_secret"
            assert "RSA" in str(caught.value)
        assert runtime.service.oauth_clients.list(actor) == []
    finally:
        runtime.close()


def test_a_consumer_the_provider_refuses_is_refused_at_start_with_nothing_stored(
    settings: Settings, provider: tuple[Keys, str], signature_method: str
) -> None:
    keys, base_url = provider
    wrong = Keys(
        consumer_key=keys.consumer_key,
        consumer_secret=(
            pki.rsa_pem("CANARY-other")
            if signature_method == "RSA-SHA1"
            else "consumer-secret-CANARY-wrong"
        ),
    )
    runtime, actor = _open(settings, _app(base_url, signature_method), wrong)
    try:
        with pytest.raises(OAuthClientRejected) as caught:
            runtime.service.authorizations.start(actor, app=APP)
        assert "CANARY" not in str(caught.value) and "HTTP 401" in str(caught.value)
        assert keys.requests == {}
    finally:
        runtime.close()


def test_an_unreachable_provider_is_unavailable_not_refused(
    settings: Settings, provider: tuple[Keys, str], signature_method: str
) -> None:
    keys, _ = provider
    with oauth1_server(Keys()) as base_url:
        app = _app(base_url, signature_method)
    runtime, actor = _open(settings, app, keys)  # the server is gone
    try:
        with pytest.raises(ProviderUnavailable):
            runtime.service.authorizations.start(actor, app=APP)
    finally:
        runtime.close()

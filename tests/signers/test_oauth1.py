"""OAuth 1.0a token connections (NetSuite-style: the four values pasted, a realm) against a
resource server built on oauthlib's endpoints, which checks signature, timestamp and nonce:
the proxy and both SDK signers sign every request; a wrong secret is refused at create."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
import requests

from gatekey import signers
from gatekey.catalog.schema import App
from gatekey.errors import CredentialsRejected
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.signing import OAuth1Signing
from tests.fakes import pki
from tests.fakes.oauth1_provider import Keys, oauth1_server


def _app(base_url: str, method: str, realm: str | None) -> App:
    secret = {"type": "string", "secret": True}
    return App.model_validate(
        {
            "key": "tba-local",
            "name": "TBA (local peer)",
            "docs_url": "https://oauth.net/core/1.0a/",
            "base_url": base_url,
            "builtin": False,
            "auth": [
                {
                    "kind": "oauth1",
                    "fields": {
                        "properties": {
                            "consumer_key": {"title": "Consumer key"},
                            "consumer_secret": {"title": "Consumer secret", **secret},
                            "token": {"title": "Token id"},
                            "token_secret": {"title": "Token secret", **secret},
                        },
                        "required": ["consumer_key", "consumer_secret", "token", "token_secret"],
                    },
                    "config": {"properties": {"account": {"title": "Account"}}},
                    "oauth1": {
                        "flow": "token",
                        "signature_method": method,
                        **({"realm": "{account}"} if realm else {}),
                    },
                    "test_request": {"path": "/me", "account_label": ["user"]},
                }
            ],
        }
    )


@pytest.fixture(params=["HMAC-SHA1", "HMAC-SHA256", "RSA-SHA1"])
def peer(
    request: pytest.FixtureRequest, settings: Settings
) -> Iterator[tuple[Service, Actor, Keys, str]]:
    keys = Keys(realm="1234567_SB1")
    if request.param == "RSA-SHA1":  # the consumer secret field holds the PEM private key
        keys.consumer_secret = pki.rsa_pem("oauth1")
        keys.rsa_public_key = pki.public_pem(keys.consumer_secret)
    with oauth1_server(keys) as base_url:
        local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
        app = _app(base_url, request.param, keys.realm)
        runtime = open_runtime(local, migrate=False, extra_apps=[app])
        project, _ = runtime.service.system.bootstrap()
        yield runtime.service, Actor.operator(project.id), keys, base_url
        runtime.close()


def _fields(keys: Keys) -> dict[str, str]:
    return {
        "consumer_key": keys.consumer_key,
        "consumer_secret": keys.consumer_secret,
        "token": keys.token,
        "token_secret": keys.token_secret,
    }


def test_every_request_is_signed_by_the_proxy_and_both_signers(
    peer: tuple[Service, Actor, Keys, str],
) -> None:
    service, actor, keys, base_url = peer
    made = service.connections.create(
        actor, app="tba-local", name="tba", fields=_fields(keys), config={"account": keys.realm}
    )
    assert made.status == "active" and made.account_label == "ada"
    for _ in range(2):  # a fresh nonce each time: the peer takes each once
        assert service.proxy.send(actor, made.id, "GET", "/me?x=1").status == 200
    creds = service.credentials.resolve(actor, made.id)
    assert isinstance(creds.signing, OAuth1Signing) and creds.fields == {}
    assert creds.signing.realm == keys.realm
    assert keys.consumer_secret not in repr(creds) + repr(creds.signing)
    assert httpx2.get(base_url + "/me", auth=signers.httpx_auth(creds)).status_code == 200
    answer = requests.get(base_url + "/me", auth=signers.requests_auth(creds), timeout=10)
    assert answer.status_code == 200
    assert httpx2.get(base_url + "/me").status_code == 401


def test_a_wrong_secret_is_refused_and_nothing_is_stored(
    peer: tuple[Service, Actor, Keys, str],
) -> None:
    service, actor, keys, _ = peer
    wrong = {**_fields(keys), "token_secret": "CANARY-wrong-token-secret"}
    if keys.rsa_public_key:  # RSA-SHA1 signs with the consumer's key alone (RFC 5849 3.4.3)
        wrong["consumer_secret"] = pki.rsa_pem("CANARY-another-key")
    with pytest.raises(CredentialsRejected) as caught:
        service.connections.create(
            actor, app="tba-local", name="tba", fields=wrong, config={"account": keys.realm}
        )
    assert "CANARY" not in str(caught.value)
    assert service.connections.list(actor).items == []

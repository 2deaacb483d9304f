"""STS AssumeRole against a peer nobody here wrote: ``moto`` in server mode with its signature
checks on (after the three set-up calls that make an IAM user). A connection holding a user's
keys and a role ARN hands out only temporary credentials, S3 works through the proxy with
them, they are renewed past their expiry, and a refusal by STS is said in AWS's words.

What moto enforces, and so what is tested here: signatures (a wrong secret key is
``SignatureDoesNotMatch``), the caller's IAM policy, and the role's trust policy when an
external id is sent (a wrong one is ``AccessDenied``). It does not check that the role exists
(an unknown or deleted role is assumed all the same) nor that an external id the trust policy
demands is sent at all; a role that can no longer be assumed is therefore made here by
changing its trust policy to another external id."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx2
import pytest

from gatekey import signers
from gatekey.catalog.schema import App
from gatekey.errors import (
    ConnectionInactive,
    CredentialsRejected,
    DestinationBlocked,
    GrantRevoked,
    InvalidFields,
    ProviderUnavailable,
)
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.signing import AwsSigning
from tests.fakes.aws_peer import assumable_role, iam, iam_user, moto_server, trust
from tests.fakes.servers import serve
from tests.fakes.sts_relay import StsRelay

EXTERNAL_ID = "gatekey-external-0001"
USER = "gatekey-sts"


def _trust(external_id: str) -> str:
    return trust(USER, external_id)


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def user_key(moto: str) -> dict[str, str]:
    """An IAM user allowed everything, and its access key, made at the peer (unchecked)."""
    return iam_user(moto, USER)


@pytest.fixture
def role(moto: str, user_key: dict[str, str]) -> Iterator[str]:
    """A role the user may assume with ``EXTERNAL_ID``, allowed everything; made signed."""
    yield assumable_role(moto, user_key, USER, "gatekey-reader", EXTERNAL_ID)
    client = _iam(moto, user_key)
    client.delete_role_policy(RoleName="gatekey-reader", PolicyName="all")
    client.delete_role(RoleName="gatekey-reader")


def _iam(moto: str, key: dict[str, str]) -> Any:
    return iam(moto, key)


def _s3(base_url: str, sts_url: str | None = None, key: str = "s3-role") -> App:
    return App.model_validate(
        {
            "key": key,
            "name": f"S3 through a role ({key})",
            "docs_url": "https://docs.aws.amazon.com/STS/latest/APIReference/",
            "base_url": base_url,
            "builtin": False,
            "auth": [
                {
                    "kind": "aws_sigv4",
                    "fields": {
                        "properties": {
                            "access_key_id": {"title": "Access key ID"},
                            "secret_access_key": {"title": "Secret access key", "secret": True},
                        },
                        "required": ["access_key_id", "secret_access_key"],
                    },
                    "config": {
                        "properties": {
                            "region": {"title": "Region", "default": "us-east-1"},
                            "role_arn": {"title": "Role ARN"},
                            "external_id": {"title": "External ID"},
                        }
                    },
                    "aws": {
                        "service": "s3",
                        "unsigned_payload": True,
                        "assume_role": {
                            "sts_url": sts_url or base_url,
                            "duration_seconds": 900,
                            "account_label": "{aws_account_id} as {aws_identity}",
                        },
                    },
                    "test_request": {"path": "/"},
                }
            ],
        }
    )


@pytest.fixture(scope="module")
def relay(moto: str) -> Iterator[tuple[StsRelay, str]]:
    relay = StsRelay(moto)
    with serve(relay) as url:
        yield relay, url


@pytest.fixture
def service(
    settings: Settings, moto: str, relay: tuple[StsRelay, str]
) -> Iterator[tuple[Service, Actor]]:
    local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
    relayed = _s3(moto, relay[1], "s3-relay")
    runtime = open_runtime(local, migrate=False, extra_apps=[_s3(moto), relayed])
    project, _ = runtime.service.system.bootstrap()
    yield runtime.service, Actor.operator(project.id)
    runtime.close()


def _travel(service: Service, delta: timedelta) -> None:
    real = service.context.clock
    service.context.clock = lambda: real() + delta


def test_the_role_s_temporary_credentials_sign_and_are_renewed_past_expiry(
    service: tuple[Service, Actor], moto: str, user_key: dict[str, str], role: str
) -> None:
    svc, actor = service
    config = {"role_arn": role, "external_id": EXTERNAL_ID}
    made = svc.connections.create(actor, app="s3-role", name="s3", fields=user_key, config=config)
    assert made.status == "active"
    assert made.account_label == "123456789012 as role/gatekey-reader"
    assert svc.proxy.send(actor, made.id, "PUT", "/gatekey-role-bucket").status == 200
    put = svc.proxy.send(actor, made.id, "PUT", "/gatekey-role-bucket/a.txt", body=b"hi")
    assert put.status == 200

    creds = svc.credentials.resolve(actor, made.id)
    signing = creds.signing
    assert isinstance(signing, AwsSigning) and creds.fields == {}
    assert signing.session_token and signing.access_key_id != user_key["access_key_id"]
    assert signing.secret_access_key != user_key["secret_access_key"]
    assert signing.expires_at is not None
    assert user_key["secret_access_key"] not in repr(creds) + repr(signing)
    url = moto + "/gatekey-role-bucket/a.txt"
    assert httpx2.get(url, auth=signers.httpx_auth(creds)).content == b"hi"
    assert httpx2.get(url).status_code == 403  # the peer checks signatures

    _travel(svc, timedelta(hours=1))
    renewed = svc.credentials.resolve(actor, made.id).signing
    assert isinstance(renewed, AwsSigning)
    assert renewed.session_token and renewed.session_token != signing.session_token
    assert renewed.expires_at is not None and renewed.expires_at > signing.expires_at
    got = svc.proxy.send(actor, made.id, "GET", "/gatekey-role-bucket/a.txt")
    assert got.status == 200 and got.body == b"hi"
    shown = repr(svc.connections.get(actor, made.id)) + repr(svc.connections.list(actor))
    assert user_key["secret_access_key"] not in shown and signing.session_token not in shown


def test_a_role_that_can_no_longer_be_assumed_makes_the_connection_inactive(
    service: tuple[Service, Actor], moto: str, user_key: dict[str, str], role: str
) -> None:
    svc, actor = service
    config = {"role_arn": role, "external_id": EXTERNAL_ID}
    made = svc.connections.create(actor, app="s3-role", name="s3", fields=user_key, config=config)
    iam = _iam(moto, user_key)
    iam.update_assume_role_policy(  # type: ignore[attr-defined]
        RoleName="gatekey-reader", PolicyDocument=_trust("another-external-id")
    )
    _travel(svc, timedelta(hours=1))
    with pytest.raises(ConnectionInactive) as caught:
        svc.credentials.resolve(actor, made.id)
    assert "not authorized to perform: sts:AssumeRole" in caught.value.message
    now = svc.connections.get(actor, made.id)
    assert now.status == "inactive" and "AccessDenied" in (now.status_message or "")


def test_a_wrong_external_id_or_a_value_that_is_no_arn_is_refused_and_nothing_is_stored(
    service: tuple[Service, Actor], user_key: dict[str, str], role: str
) -> None:
    svc, actor = service
    wrong = {"role_arn": role, "external_id": "not-the-external-id"}
    with pytest.raises(GrantRevoked) as refused:
        svc.connections.create(actor, app="s3-role", name="s3", fields=user_key, config=wrong)
    assert "AccessDenied" in refused.value.message
    no_arn = {"role_arn": "gatekey-reader", "external_id": EXTERNAL_ID}
    with pytest.raises(InvalidFields) as invalid:
        svc.connections.create(actor, app="s3-role", name="s3", fields=user_key, config=no_arn)
    assert invalid.value.details["errors"][0]["field"] == "role_arn"
    assert svc.connections.list(actor).items == []


def test_a_refused_key_is_said_without_the_canary_and_nothing_is_stored(
    service: tuple[Service, Actor], user_key: dict[str, str], role: str
) -> None:
    svc, actor = service
    canary = {**user_key, "secret_access_key": "CANARY-not-the-secret-0123456789"}
    config = {"role_arn": role, "external_id": EXTERNAL_ID}
    with pytest.raises(CredentialsRejected) as caught:
        svc.connections.create(actor, app="s3-role", name="s3", fields=canary, config=config)
    assert "SignatureDoesNotMatch" in caught.value.message
    assert "CANARY" not in str(caught.value) + repr(caught.value.details)
    assert svc.connections.list(actor).items == []


def test_throttling_and_outages_at_sts_are_retried_never_inactive(
    service: tuple[Service, Actor],
    relay: tuple[StsRelay, str],
    user_key: dict[str, str],
    role: str,
) -> None:
    svc, actor = service
    sts, _ = relay
    config = {"role_arn": role, "external_id": EXTERNAL_ID}
    made = svc.connections.create(actor, app="s3-relay", name="s3", fields=user_key, config=config)
    assert made.status == "active"
    try:
        for hours, (status, code) in enumerate([(503, "ServiceUnavailable"), (400, "Throttling")]):
            sts.fail(status, code)
            _travel(svc, timedelta(hours=hours + 1))
            before = sts.calls
            with pytest.raises(ProviderUnavailable) as caught:
                svc.credentials.resolve(actor, made.id)
            assert code in caught.value.message and sts.calls == before + 1  # no retry here
            assert svc.connections.get(actor, made.id).status == "active"
        with pytest.raises(ProviderUnavailable):
            svc.connections.create(
                actor, app="s3-relay", name="s3-b", fields=user_key, config=config
            )
    finally:
        sts.recover()
    assert [c.name for c in svc.connections.list(actor).items] == ["s3"]


def test_the_sts_endpoint_passes_the_egress_guard(
    settings: Settings,
    moto: str,
    relay: tuple[StsRelay, str],
    user_key: dict[str, str],
    role: str,
) -> None:
    """Only moto's port is allowed: the app's requests could go, its STS endpoint (the relay,
    on another loopback port) may not, and nothing reaches it."""
    sts, sts_url = relay
    allowed = moto.removeprefix("http://")
    guarded = settings.model_copy(update={"egress_allow": allowed})
    runtime = open_runtime(guarded, migrate=False, extra_apps=[_s3(moto, sts_url, "s3-relay")])
    try:
        project, _ = runtime.service.system.bootstrap()
        actor = Actor.operator(project.id)
        config = {"role_arn": role, "external_id": EXTERNAL_ID}
        before = sts.calls
        with pytest.raises(DestinationBlocked) as caught:
            runtime.service.connections.create(
                actor, app="s3-relay", name="s3", fields=user_key, config=config
            )
        assert "loopback" in caught.value.message and sts.calls == before
        assert runtime.service.connections.list(actor).items == []
    finally:
        runtime.close()

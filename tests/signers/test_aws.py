"""AWS SigV4 against a peer nobody here wrote: ``moto`` in server mode with its
authentication checks on (after the three set-up calls that make an IAM user), verifying
every signature. An S3 bucket and object are written through the proxy and read back
through both SDK signers; a request without a signature, or a key the peer refuses, is
refused, and nothing is stored."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

# Read when moto is imported: its first three actions (making the IAM user below) need no
# signature, as moto documents for setting up; every request after them is checked.
os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"

import boto3
import httpx2
import pytest
import requests
from moto.server import ThreadedMotoServer

from gatekey import signers
from gatekey.catalog.schema import App
from gatekey.errors import CredentialsRejected
from gatekey.runtime import open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.signing import AwsSigning

ROOT_KEY = "AKIAIOSFODNN7EXAMPLE"  # any key: the set-up calls are not checked


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def user_key(moto: str) -> dict[str, str]:
    """An IAM user's access key, allowed everything, made at the peer."""
    iam = boto3.client(
        "iam",
        endpoint_url=moto,
        region_name="us-east-1",
        aws_access_key_id=ROOT_KEY,
        aws_secret_access_key="bootstrap",
    )
    iam.create_user(UserName="gatekey")
    key = iam.create_access_key(UserName="gatekey")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*",
                                                       "Resource": "*"}]}  # fmt: skip
    iam.put_user_policy(UserName="gatekey", PolicyName="all", PolicyDocument=json.dumps(policy))
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


def _s3(base_url: str) -> App:
    return App.model_validate(
        {
            "key": "s3-local",
            "name": "S3 (local peer)",
            "docs_url": "https://docs.aws.amazon.com/AmazonS3/latest/API/",
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
                        "properties": {"region": {"title": "Region", "default": "us-east-1"}}
                    },
                    "aws": {"service": "s3", "unsigned_payload": True},
                    "test_request": {"path": "/"},
                }
            ],
        }
    )


@pytest.fixture
def signed(
    settings: Settings, moto: str, user_key: dict[str, str]
) -> Iterator[tuple[Service, Actor]]:
    local = settings.model_copy(update={"egress_allow": "127.0.0.1"})
    runtime = open_runtime(local, migrate=False, extra_apps=[_s3(moto)])
    project, _ = runtime.service.system.bootstrap()
    yield runtime.service, Actor.operator(project.id)
    runtime.close()


def test_s3_put_through_the_proxy_and_get_through_both_signers(
    signed: tuple[Service, Actor], moto: str, user_key: dict[str, str]
) -> None:
    service, actor = signed
    made = service.connections.create(actor, app="s3-local", name="s3", fields=user_key)
    assert made.status == "active"
    assert service.proxy.send(actor, made.id, "PUT", "/gatekey-bucket").status == 200
    put = service.proxy.send(actor, made.id, "PUT", "/gatekey-bucket/hello.txt", body=b"hi")
    assert put.status == 200

    creds = service.credentials.resolve(actor, made.id)
    assert isinstance(creds.signing, AwsSigning) and creds.fields == {}
    assert creds.signing.session_token is None and creds.signing.region == "us-east-1"
    assert user_key["secret_access_key"] not in repr(creds) + repr(creds.signing)
    url = moto + "/gatekey-bucket/hello.txt"
    assert httpx2.get(url, auth=signers.httpx_auth(creds)).content == b"hi"
    assert requests.get(url, auth=signers.requests_auth(creds), timeout=10).content == b"hi"
    assert httpx2.get(url).status_code == 403  # the peer checks signatures


def test_a_key_the_peer_refuses_is_refused_and_nothing_is_stored(
    signed: tuple[Service, Actor], user_key: dict[str, str]
) -> None:
    service, actor = signed
    wrong = {**user_key, "secret_access_key": "CANARY-not-the-secret-0123456789"}
    with pytest.raises(CredentialsRejected) as caught:
        service.connections.create(actor, app="s3-local", name="s3", fields=wrong)
    assert "CANARY" not in str(caught.value)
    assert service.connections.list(actor).items == []

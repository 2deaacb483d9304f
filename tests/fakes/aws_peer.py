"""moto in server mode with its signature checks on, and the IAM set-up the AWS tests share:
a user allowed everything (made by moto's first, unchecked, actions) and a role it may assume
with an external id (made signed)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Read when moto is imported: its first actions need no signature; every one after is checked.
os.environ.setdefault("INITIAL_NO_AUTH_ACTION_COUNT", "3")

import boto3
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.server import ThreadedMotoServer

ROOT_KEY = "AKIAIOSFODNN7EXAMPLE"  # any key: the set-up calls are not checked
ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@contextmanager
def moto_server() -> Iterator[str]:
    """moto on a loopback port, its first three actions unchecked (the user's set-up).

    moto counts unchecked actions per process: each server gets its own three, and the count
    is left as it was for any other server in the same run."""
    saved = (moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count)
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 3
    ActionAuthenticatorMixin.request_count = 0
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = saved


def iam_user(moto: str, name: str) -> dict[str, str]:
    """An IAM user allowed everything and its access key (three unchecked actions)."""
    iam = boto3.client(
        "iam",
        endpoint_url=moto,
        region_name="us-east-1",
        aws_access_key_id=ROOT_KEY,
        aws_secret_access_key="bootstrap",
    )
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=json.dumps(ALL))
    return {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}


def iam(moto: str, key: dict[str, str]) -> Any:
    """An IAM client signing with ``key``."""
    return boto3.client(
        "iam",
        endpoint_url=moto,
        region_name="us-east-1",
        aws_access_key_id=key["access_key_id"],
        aws_secret_access_key=key["secret_access_key"],
    )


def trust(user: str, external_id: str) -> str:
    """A trust policy letting ``user`` assume the role with ``external_id``."""
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::123456789012:user/{user}"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def assumable_role(moto: str, key: dict[str, str], user: str, name: str, external_id: str) -> str:
    """A role allowed everything that ``user`` may assume with ``external_id``; its ARN."""
    client = iam(moto, key)
    made = client.create_role(RoleName=name, AssumeRolePolicyDocument=trust(user, external_id))
    client.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=json.dumps(ALL))
    return str(made["Role"]["Arn"])

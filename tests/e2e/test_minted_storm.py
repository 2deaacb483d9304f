"""A refresh storm on a minted token: many executions on several processes ask for one
expired token of a recipe kind at once (issue 18). Exactly one mint reaches the peer and every
caller gets the same new token, as for OAuth2 (``test_refresh_storm``). Runs on SQLite and on
PostgreSQL, each peer answering slowly so that every caller arrives while the mint is in
flight."""

from __future__ import annotations

import multiprocessing
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from gatekey.catalog.schema import App
from gatekey.runtime import open_runtime
from gatekey.service import Actor, utcnow
from gatekey.settings import Settings
from gatekey.store.tables import connections
from tests.fakes import pki
from tests.fakes.assertion_server import Account, AssertionServer, assertion_server
from tests.fakes.aws_peer import assumable_role, iam_user, moto_server
from tests.fakes.keys import MASTER_KEY
from tests.fakes.login_api import LoginApi, login_api
from tests.fakes.servers import serve
from tests.fakes.sts_relay import StsRelay

pytestmark = pytest.mark.slow  # several processes

PROCESSES = 4
THREADS = 10


def _settings(home: str, url: str) -> Settings:
    return Settings(
        home=Path(home),
        database_url=url,
        master_keys=MASTER_KEY,
        audit_flush_interval=0.05,
        egress_allow="127.0.0.1",
    )


@dataclass
class Peer:
    """A peer that mints, the app using it, how to connect, and how many mints it saw."""

    app: App
    fields: dict[str, str]
    config: dict[str, str]
    mints: Callable[[], int]
    token: Callable[[Any], str]
    """What a caller holds once resolved (the token, or AWS's session token)."""


@contextmanager
def _two_step() -> Iterator[Peer]:
    api = LoginApi(users={"storm": "storm-password-CANARY"}, delay=0.3)
    with login_api(api) as base:
        app = App.model_validate(
            {
                "key": "storm-login",
                "name": "Storm login",
                "docs_url": "https://example.test/docs",
                "base_url": base,
                "builtin": False,
                "auth": [
                    {
                        "kind": "two_step",
                        "fields": {
                            "properties": {
                                "username": {"title": "User"},
                                "password": {"title": "Password", "secret": True},
                            },
                            "required": ["username", "password"],
                        },
                        "two_step": {
                            "token_url": f"{base}/login",
                            "params": {"username": "{username}", "password": "{password}"},
                            "token_path": "data.token",
                            "expires_in_path": "data.expires_in",
                        },
                        "apply": [{"type": "bearer", "value": "{access_token}"}],
                    }
                ],
            }
        )
        yield Peer(
            app,
            {"username": "storm", "password": "storm-password-CANARY"},
            {},
            lambda: api.logins,
            lambda creds: str(creds.fields["access_token"]),
        )


@contextmanager
def _jwt_bearer() -> Iterator[Peer]:
    key = pki.rsa_pem("storm-service-account")
    email = "storm@project-1.iam.gserviceaccount.com"
    server = AssertionServer(accounts={email: Account(pki.public_pem(key))}, delay=0.3)
    with assertion_server(server) as base:
        app = App.model_validate(
            {
                "key": "storm-bearer",
                "name": "Storm service account",
                "docs_url": "https://example.test/docs",
                "base_url": base,
                "builtin": False,
                "auth": [
                    {
                        "kind": "jwt_bearer",
                        "fields": {
                            "properties": {
                                "private_key": {"title": "Key", "secret": True},
                                "client_email": {"title": "Email"},
                            },
                            "required": ["private_key", "client_email"],
                        },
                        "assertion": {
                            "algorithm": "RS256",
                            "key": "private_key",
                            "claims": {"iss": "{client_email}", "aud": f"{base}/token"},
                        },
                        "oauth2": {"token_url": f"{base}/token"},
                        "apply": [{"type": "bearer", "value": "{access_token}"}],
                    }
                ],
            }
        )
        yield Peer(
            app,
            {"private_key": key, "client_email": email},
            {},
            lambda: server.grants,
            lambda creds: str(creds.fields["access_token"]),
        )


@contextmanager
def _aws_sigv4() -> Iterator[Peer]:
    with moto_server() as moto:
        user = f"storm-{secrets.token_hex(4)}"  # moto's IAM outlives its server in this process
        key = iam_user(moto, user)
        role = assumable_role(moto, key, user, f"{user}-role", "storm-external-id")
        relay = StsRelay(moto, delay=0.3)
        with serve(relay) as sts:
            app = App.model_validate(
                {
                    "key": "storm-aws",
                    "name": "Storm AWS",
                    "docs_url": "https://example.test/docs",
                    "base_url": moto,
                    "builtin": False,
                    "auth": [
                        {
                            "kind": "aws_sigv4",
                            "fields": {
                                "properties": {
                                    "access_key_id": {"title": "Access key ID"},
                                    "secret_access_key": {"title": "Secret", "secret": True},
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
                                "assume_role": {"sts_url": sts, "duration_seconds": 900},
                            },
                        }
                    ],
                }
            )
            yield Peer(
                app,
                key,
                {"role_arn": role, "external_id": "storm-external-id"},
                lambda: relay.assumed,
                lambda creds: str(creds.signing.session_token),
            )


PEERS: dict[str, Callable[[], Any]] = {
    "two_step": _two_step,
    "jwt_bearer": _jwt_bearer,
    "aws_sigv4": _aws_sigv4,
}


def _storm(args: tuple[str, str, str, str, str, float]) -> list[str]:
    """Resolve the connection from THREADS threads at ``start``; return what each got."""
    home, url, app_json, project_id, connection_id, start = args
    app = App.model_validate_json(app_json)
    runtime = open_runtime(_settings(home, url), extra_apps=[app], migrate=False)
    actor = Actor.operator(project_id)
    got: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        time.sleep(max(start - time.time(), 0))
        creds = runtime.service.credentials.resolve(actor, connection_id)
        held = creds.fields.get("access_token") or getattr(creds.signing, "session_token", None)
        with lock:
            got.append(str(held))

    try:
        threads = [threading.Thread(target=one) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return got
    finally:
        runtime.close()


@pytest.mark.parametrize("kind", sorted(PEERS))
def test_one_mint_for_a_storm_on_an_expired_minted_token(
    kind: str, tmp_path: Path, database_url: str
) -> None:
    home = str(tmp_path / "home")
    with PEERS[kind]() as peer:
        runtime = open_runtime(_settings(home, database_url), extra_apps=[peer.app])
        try:
            project, _ = runtime.service.system.bootstrap()
            actor = Actor.operator(project.id)
            made = runtime.service.connections.create(
                actor,
                app=peer.app.key,
                name="storm",
                fields=peer.fields,
                config=peer.config,
                validate=False,
            )
            old = peer.token(runtime.service.credentials.resolve(actor, made.id))
            with runtime.db.write() as conn:
                conn.execute(
                    update(connections)
                    .where(connections.c.id == made.id)
                    .values(expires_at=utcnow() - timedelta(minutes=1))
                )
            before = peer.mints()
            start = time.time() + 4.0
            args = (home, database_url, peer.app.model_dump_json(), project.id, made.id, start)
            with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
                results = pool.map(_storm, [args] * PROCESSES)
        finally:
            runtime.close()
        held = [token for batch in results for token in batch]
        assert len(held) == PROCESSES * THREADS
        assert peer.mints() - before == 1
        assert len(set(held)) == 1
        assert held[0] != old

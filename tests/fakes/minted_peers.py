"""Peers that mint for each recipe kind, slowed by ``delay`` seconds so that a refresh storm
arrives while a mint is in flight, with the app that uses each and how to connect to it:
shared by the storm test (``tests/e2e/test_minted_storm.py``) and its benchmark
(``bench/minted_storm.py``). Nobody here wrote the checks they make: moto verifies SigV4, PyJWT
the assertions and the app JWTs."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from gatekey.catalog.schema import App
from gatekey.models import Credentials
from gatekey.service import Actor, Service
from tests.fakes import pki
from tests.fakes.assertion_server import Account, AssertionServer, assertion_server
from tests.fakes.aws_peer import assumable_role, iam_user, moto_server
from tests.fakes.github_api import GitHubApi, Installation, github_api
from tests.fakes.login_api import LoginApi, login_api
from tests.fakes.servers import serve
from tests.fakes.sts_relay import StsRelay


@dataclass
class Peer:
    """A peer that mints, the app using it, how to connect, and how many mints it saw."""

    app: App
    connect: Callable[[Service, Actor], str]
    """Make the connection (the project's OAuth client first, where the kind needs one);
    return its id."""
    mints: Callable[[], int]
    token: Callable[[Credentials], str]
    """What a caller holds once resolved (the token, or AWS's session token)."""
    secrets: list[str]
    """The long-lived secrets the connection holds, which nothing but the provider may see."""


def _created(app: str, fields: dict[str, str], config: dict[str, str]) -> Callable[..., str]:
    def connect(service: Service, actor: Actor) -> str:
        made = service.connections.create(
            actor, app=app, name="storm", fields=fields, config=config, validate=False
        )
        return made.id

    return connect


def _lines(pem: str) -> list[str]:
    """The body lines of a PEM key: any one of them seen anywhere is a leak."""
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


def held(creds: Credentials) -> str:
    """What a resolved caller holds: the minted token, or AWS's session token."""
    if "access_token" in creds.fields:
        return str(creds.fields["access_token"])
    return str(getattr(creds.signing, "session_token", None))


@contextmanager
def two_step(delay: float) -> Iterator[Peer]:
    api = LoginApi(users={"storm": "storm-password-CANARY"}, delay=delay)
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
        fields = {"username": "storm", "password": "storm-password-CANARY"}
        yield Peer(
            app, _created(app.key, fields, {}), lambda: api.logins, held, [fields["password"]]
        )


@contextmanager
def jwt_bearer(delay: float) -> Iterator[Peer]:
    key = pki.rsa_pem("storm-service-account")
    email = "storm@project-1.iam.gserviceaccount.com"
    server = AssertionServer(accounts={email: Account(pki.public_pem(key))}, delay=delay)
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
        fields = {"private_key": key, "client_email": email}
        yield Peer(app, _created(app.key, fields, {}), lambda: server.grants, held, _lines(key))


@contextmanager
def aws_sigv4(delay: float) -> Iterator[Peer]:
    with moto_server() as moto:
        user = f"storm-{secrets.token_hex(4)}"  # moto's IAM outlives its server in this process
        key = iam_user(moto, user)
        role = assumable_role(moto, key, user, f"{user}-role", "storm-external-id")
        relay = StsRelay(moto, delay=delay)
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
            config = {"role_arn": role, "external_id": "storm-external-id"}
            yield Peer(
                app,
                _created(app.key, key, config),
                lambda: relay.assumed,
                held,
                [key["secret_access_key"]],
            )


GITHUB_CLIENT_ID = "Iv23liSTORM00001"
INSTALLATION = "9001"


@contextmanager
def github_app(delay: float) -> Iterator[Peer]:
    key = pki.rsa_pem("storm-github-app")
    api = GitHubApi(delay=delay)
    api.apps[GITHUB_CLIENT_ID] = pki.public_pem(key)
    api.installations[INSTALLATION] = Installation(GITHUB_CLIENT_ID, "storm-org")
    with github_api(api) as base:
        tokens = f"{base}/app/installations/{{installation_id}}/access_tokens"
        app = App.model_validate(
            {
                "key": "storm-github",
                "name": "Storm GitHub App",
                "docs_url": "https://example.test/docs",
                "base_url": base,
                "builtin": False,
                "auth": [
                    {
                        "kind": "github_app",
                        "github_app": {
                            "install_url": "https://github.test/apps/storm/installations/new",
                            "app_jwt": {
                                "algorithm": "RS256",
                                "key": "private_key",
                                "claims": {"iss": "{client_id}"},
                            },
                            "token_url": tokens,
                        },
                        "apply": [{"type": "bearer", "value": "{access_token}"}],
                    }
                ],
            }
        )

        def install(service: Service, actor: Actor) -> str:
            service.oauth_clients.register(
                actor, app=app.key, client_id=GITHUB_CLIENT_ID, client_secret=key
            )
            session = service.authorizations.start(actor, app=app.key, name="storm")
            (state,) = parse_qs(urlsplit(session.authorize_url or "").query)["state"]
            done = service.system.complete_authorization(
                {"installation_id": INSTALLATION, "setup_action": "install", "state": state}
            )
            assert done.status == "succeeded", done.error_message
            return done.connection_id or ""

        yield Peer(app, install, lambda: api.issued, held, _lines(key))


PEERS: dict[str, Callable[[float], AbstractContextManager[Peer]]] = {
    "two_step": two_step,
    "jwt_bearer": jwt_bearer,
    "github_app": github_app,
    "aws_sigv4": aws_sigv4,
}

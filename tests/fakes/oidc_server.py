"""panva's ``oidc-provider`` (npm, pinned in ``package.json``) run by
``tests/fakes/oidc_provider.mjs`` on 127.0.0.1: a real authorization server that sends ``iss``
on its redirects and advertises it in its metadata (RFC 9207), with a "browser" that signs in
and consents on its development pages."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx2
import pytest

from gatekey.catalog.schema import App

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().with_name("oidc_provider.mjs")
CLIENT_ID = "gatekey-oidc-test"
CLIENT_SECRET = "oidc-client-secret-CANARY-77ab"


@dataclass
class OidcServer:
    issuer: str
    callback: str

    def app(self, **oauth2: Any) -> App:
        """An app on this server that declares no issuer: only the metadata says it sends one."""
        spec = {
            "authorization_url": f"{self.issuer}/auth",
            "token_url": f"{self.issuer}/token",
            "default_scopes": ["openid"],
            "client_auth_method": "client_secret_basic",
            "pkce": True,
            **oauth2,
        }
        return App.model_validate(
            {
                "key": "oidc-test",
                "name": "OIDC Test",
                "description": "oidc-provider on loopback",
                "categories": ["other"],
                "docs_url": self.issuer,
                "base_url": self.issuer,
                "builtin": False,
                "auth": [{"kind": "oauth2", "oauth2": spec}],
            }
        )

    def consent(self, authorize_url: str) -> dict[str, str]:
        """Sign in and consent on the server's pages; return the query the callback gets."""
        with httpx2.Client(trust_env=False, timeout=10) as browser:
            url = authorize_url
            for _ in range(10):
                answer = browser.get(url)
                if answer.status_code in (302, 303):
                    url = urljoin(url, answer.headers["location"])
                    if url.startswith(self.callback):
                        return dict(parse_qsl(urlsplit(url).query))
                    continue
                assert answer.status_code == 200, answer.text
                prompt = "login" if 'value="login"' in answer.text else "consent"
                form = {"prompt": prompt, "login": "ada", "password": "any"}
                submitted = browser.post(url, data=form)
                assert submitted.status_code in (302, 303), submitted.text
                url = urljoin(url, submitted.headers["location"])
                if url.startswith(self.callback):
                    return dict(parse_qsl(urlsplit(url).query))
        raise AssertionError("oidc-provider never sent the browser back")


@contextmanager
def running_oidc_server(
    callback: str, key_client: dict[str, Any] | None = None
) -> Iterator[OidcServer]:
    """Run the server; ``key_client`` (``{client_id, jwks}``) adds a client-credentials client
    that authenticates with ``private_key_jwt``."""
    config: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": callback,
    }
    if key_client is not None:
        config["key_client"] = key_client
    with node_server(SCRIPT, config) as ready:
        yield OidcServer(str(ready["issuer"]), callback)


@contextmanager
def node_server(script: Path, config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Run one of the Node.js peers with ``config``; yield the line of JSON it prints when it
    listens. It exits when its stdin closes (so it dies with the tests)."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "oidc-provider").is_dir():
        pytest.skip("oidc-provider needs node and `npm ci`")
    process = subprocess.Popen(
        [node, str(script), json.dumps(config)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()

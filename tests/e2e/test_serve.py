"""``gatekey serve`` as a newcomer runs it, driven over HTTP by ``gatekey.Client``."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from gatekey import Client
from gatekey.errors import AuthenticationFailed, CredentialsRejected, DuplicateName, NotFound
from tests.fakes.provider_server import ACCEPTED, provider_server

pytestmark = pytest.mark.slow  # a gatekey serve process


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gatekey_serve(
    home: Path, database_url: str, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, str]]:
    """Run ``python -m gatekey serve`` as a newcomer would; yield its URL and admin key."""
    port = _free_port()
    environ = {
        **os.environ,
        "GATEKEY_HOME": str(home),
        "GATEKEY_DATABASE_URL": database_url,
        "GATEKEY_REFRESH_INTERVAL": "1",
        **(env or {}),
    }
    environ.pop("GATEKEY_MASTER_KEYS", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gatekey", "serve", "--port", str(port), *args],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    printed = []
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    token = None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        printed.append(line)
        match = re.search(r"^\s+(gk_\S+)$", line)
        if match:
            token = match.group(1)
        if "serving on" in line:
            break
    assert token, "".join(printed)
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"{base}/healthz").status_code == 200:
                break
        except httpx2.TransportError:
            time.sleep(0.1)
    try:
        yield base, token
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[tuple[str, str, Path]]:
    home = tmp_path / "home"
    with (
        provider_server(tmp_path / "apps"),
        gatekey_serve(home, database_url, env={"GATEKEY_APPS_DIR": str(tmp_path / "apps")}) as (
            base,
            token,
        ),
    ):
        yield base, token, home


def test_a_newcomer_uses_the_server_from_python(server: tuple[str, str, Path]) -> None:
    base, token, home = server
    assert (home / "master.key").stat().st_mode & 0o777 == 0o600
    with Client(base, token) as client:
        with pytest.raises(CredentialsRejected, match="API key not recognised"):
            client.create_connection("local-crm", "CRM", {"api_key": "CANARYwrong"})
        conn = client.create_connection(
            "local-crm", "Local CRM - Production", {"api_key": ACCEPTED}
        )
        assert conn.account_label == "owner@local.test"
        assert conn.is_default
        with pytest.raises(DuplicateName):
            client.create_connection("local-crm", "local crm - production", {"api_key": ACCEPTED})
        sendgrid = client.create_connection(
            "sendgrid", "SendGrid - Production", {"api_key": "SG.e2e.CANARYe2e"}, skip_test=True
        )
        page = client.list_connections(app="sendgrid")
        assert [c.id for c in page.items] == [sendgrid.id]
        assert client.rename_connection(sendgrid.id, "SendGrid - Prod").name == "SendGrid - Prod"
        second = client.create_connection(
            "sendgrid", "SendGrid - Staging", {"api_key": "SG.two.CANARYtwo"}, skip_test=True
        )
        assert client.set_default(second.id).is_default
        assert not client.get_connection(sendgrid.id).is_default
        creds = client.resolve_credentials(sendgrid.id)
        assert creds.headers == {"Authorization": "Bearer SG.e2e.CANARYe2e"}
        assert client.test_connection(conn.id).ok
        runtime_key = client.create_api_key("worker", role="runtime")
        with Client(base, runtime_key.token) as worker:
            assert worker.resolve_credentials(conn.id).headers == {"X-Api-Key": ACCEPTED}
        assert client.delete_connection(sendgrid.id).was_default is False
        with pytest.raises(NotFound):
            client.get_connection(sendgrid.id)
    with Client(base, "gk_nope") as stranger, pytest.raises(AuthenticationFailed):
        stranger.list_connections()


def test_the_demo_connects_the_sandbox_end_to_end(tmp_path: Path, database_url: str) -> None:
    """``gatekey serve --demo``: consent in the sandbox, the callback page, fresh tokens."""
    with (
        gatekey_serve(tmp_path / "home", database_url, "--demo") as (base, token),
        Client(base, token) as client,
    ):
        (sandbox_client,) = client.list_oauth_clients()
        assert sandbox_client.app == "sandbox"
        session = client.start_authorization("sandbox", name="Sandbox - Demo")
        url = session.authorize_url or ""
        assert url.startswith(f"{base}/sandbox/authorize?")
        with httpx2.Client(trust_env=False) as browser:
            consent = browser.get(url)
            assert consent.status_code == 200 and "Sign in to Sandbox" in consent.text
            query = dict(httpx2.URL(url).params)
            fields = ("client_id", "redirect_uri", "response_type", "scope", "state")
            form = {k: query[k] for k in (*fields, "code_challenge", "code_challenge_method")}
            answer = browser.post(f"{base}/sandbox/authorize", data={**form, "decision": "approve"})
            assert answer.status_code == 302
            page = browser.get(answer.headers["location"])
        assert page.status_code == 200 and "Connected" in page.text
        done = client.wait_for_authorization(session.id, timeout=10, interval=0.1)
        assert done.status == "succeeded"
        credentials = client.resolve_credentials(done.connection_id or "")
        assert credentials.headers["Authorization"].startswith("Bearer sbx_at_")
        refreshed = client.resolve_credentials(
            done.connection_id or "", stale_token=credentials.fields["access_token"]
        )
        assert refreshed.fields["access_token"] != credentials.fields["access_token"]
        assert client.delete_connection(done.connection_id or "").provider_revocation == "revoked"

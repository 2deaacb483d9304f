from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from gatekey.cli import app
from tests.fakes.cli import run, runner


def test_register_a_client_and_start_connecting(env: Path) -> None:
    added = runner.invoke(
        app,
        ["oauth-clients", "add", "--app", "github", "--client-id", "Iv1.cli", "--json"],
        input="cli-secret-CANARY-31\n",
    )
    assert added.exit_code == 0, added.stderr
    assert "CANARY" not in added.stdout
    assert json.loads(added.stdout)["client_id"] == "Iv1.cli"

    code, out, err = run("oauth-clients", "list", "--json")
    assert code == 0 and "CANARY" not in out
    assert [c["app"] for c in json.loads(out)] == ["github"]

    code, out, err = run(
        "connections", "connect", "--app", "github", "--name", "GitHub - me", "--no-wait"
    )
    assert code == 0, err
    url = urlsplit(out.strip())
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://github.com/login/oauth/authorize"
    query = parse_qs(url.query)
    assert query["client_id"] == ["Iv1.cli"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == ["http://127.0.0.1:8040/oauth/callback"]
    session_id = err.split("authorization ")[-1].strip()

    code, out, _ = run("connections", "authorization", session_id, "--json")
    assert code == 0 and json.loads(out)["status"] == "pending"


def test_connect_without_a_client_says_what_to_do(env: Path) -> None:
    code, _, err = run("connections", "connect", "--app", "github", "--no-wait")
    assert code == 2
    assert "oauth_client_missing" in err and "register one" in err


def test_worker_sweeps_once(env: Path) -> None:
    code, out, err = run("worker", "--once")
    assert code == 0, err
    assert "refreshed 0, failed 0" in out

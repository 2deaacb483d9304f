"""``gatekey oauth-clients``, then the consent it makes possible."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from gatekey.cli import app
from tests.fakes import pki
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


def test_an_unknown_app_or_a_second_client_is_refused_before_the_secret_is_asked(
    env: Path,
) -> None:
    refused = runner.invoke(app, ["oauth-clients", "add", "--app", "nope", "--client-id", "x"])
    assert refused.exit_code == 2 and "Client secret" not in refused.output
    assert refused.stderr.strip().splitlines()[-1].startswith("error [unknown_app]: ")
    first = runner.invoke(
        app, ["oauth-clients", "add", "--app", "github", "--client-id", "a"], input="s1\n"
    )
    assert first.exit_code == 0, first.stderr
    (client,) = json.loads(run("oauth-clients", "list", "--json")[1])
    again = runner.invoke(app, ["oauth-clients", "add", "--app", "github", "--client-id", "b"])
    assert again.exit_code == 4 and "Client secret" not in again.output
    assert again.stderr.strip() == (
        "error [conflict]: an OAuth client for GitHub exists already; change it with "
        f"'gatekey oauth-clients update {client['id']} --client-id ID --secret'"
    )


def test_a_secret_may_be_read_from_a_file_a_pem_key_over_several_lines(
    env: Path, tmp_path: Path
) -> None:
    key = tmp_path / "app.pem"
    key.write_text(pki.rsa_pem("cli-file"))
    given = ["--client-id", "Iv1.file", "--secret-file", str(key), "--json"]
    added = runner.invoke(app, ["oauth-clients", "add", "--app", "github", *given])
    assert added.exit_code == 0, added.stderr
    assert "Client secret" not in added.output
    assert "PRIVATE KEY" not in added.stdout
    assert json.loads(added.stdout)["client_id"] == "Iv1.file"

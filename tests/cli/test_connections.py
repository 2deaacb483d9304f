"""``gatekey connections``: a connection's whole life from the command line."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from gatekey.store.database import Database
from gatekey.store.tables import connections
from tests.fakes import pki
from tests.fakes.apps import KEY_ID, SIGNED_JWT_APP, SIGNED_JWT_ISSUER, retiring
from tests.fakes.cli import create_connection, on_terminal, run


def test_a_connection_from_the_command_line(env: Path) -> None:
    code, out, err = run(
        "connections",
        "create",
        "--app",
        "sendgrid",
        "--name",
        "SendGrid - Production",
        "--field",
        "api_key=SG.cli.CANARYcli0001",
        "--skip-test",
        "--json",
    )
    assert code == 0, err
    assert "Created master key file" in err
    assert "admin API key (shown once)" in err
    created = json.loads(out)
    cid = created["id"]
    assert created["fields"] == {"api_key": "••••0001"}
    assert (env / "master.key").stat().st_mode & 0o777 == 0o600

    code, out, _ = run("connections", "list", "--json")
    assert [c["id"] for c in json.loads(out)] == [cid]
    assert "CANARY" not in out
    code, out, _ = run("connections", "list")
    assert "SendGrid - Production" in out and "Unverified" in out  # saved with --skip-test

    assert run("connections", "rename", cid, "SendGrid - Prod")[0] == 0
    assert json.loads(run("connections", "show", cid, "--json")[1])["name"] == "SendGrid - Prod"
    code, out, _ = run("connections", "set-default", cid)
    assert "now the default" in out

    code, out, _ = run("connections", "credentials", cid)
    assert json.loads(out)["headers"]["Authorization"] == "Bearer SG.cli.CANARYcli0001"

    code, out, _ = run("connections", "delete", cid, "--yes")
    assert code == 0 and "no SendGrid connection is the default now" in out
    code, _, err = run("connections", "show", cid)
    assert code == 3
    assert err.strip() == f"error [not_found]: connection {cid} not found"


def test_an_oauth2_app_is_connected_through_its_consent_screen(env: Path) -> None:
    code, _, err = run(
        "connections", "create", "--app", "github", "--name", "GH", "-f", "token=x", "--skip-test"
    )
    assert code != 0 and "[invalid_input]" in err
    assert "run 'gatekey connections connect --app github'" in err
    assert "/api/v1" not in err


def test_a_fields_file_that_is_not_an_object_is_one_line(env: Path, tmp_path: Path) -> None:
    for content in ("[1, 2]", "{oops"):
        file = tmp_path / "fields.json"
        file.write_text(content)
        code, _, err = run(
            "connections",
            "create",
            "--app",
            "sendgrid",
            "--name",
            "SG",
            "--fields-file",
            str(file),
            "--skip-test",
        )
        assert code == 2 and "error [invalid_input]: " in err, err
        assert str(file) in err and "Traceback" not in err


def _terminal_environ(env: Path, database_url: str) -> dict[str, str]:
    environ = {**os.environ, "GATEKEY_HOME": str(env), "GATEKEY_DATABASE_URL": database_url}
    environ.pop("GATEKEY_MASTER_KEYS", None)
    return environ


ASKED = [
    'Subdomain (The "acme" in acme.zendesk.com.): acme',
    "Agent email: agent@acme.test",
    "API token (An existing token from Admin Center > Apps and integrations > APIs > "
    "Zendesk API.): ",
]
"""The prompts as a person sees them: config, then plain fields, then the secret (hidden)."""


def test_on_a_terminal_config_and_fields_are_asked_for_secrets_hidden_and_last(
    env: Path, database_url: str
) -> None:
    code, printed = on_terminal(
        _terminal_environ(env, database_url),
        *("connections", "create", "--app", "zendesk", "--auth-kind", "custom"),
        *("--name", "Zendesk - Support"),
        "--skip-test",
        answers=[
            ("Subdomain", "acme"),
            ("Agent email", "agent@acme.test"),
            ("API token", "zd-CANARY-token-77"),
        ],
    )
    assert code == 0, printed
    lines = printed.splitlines()
    asked = [lines.index(p) for p in ASKED if p in lines]
    assert asked == sorted(asked) and len(asked) == len(ASKED), printed
    assert "CANARY" not in printed, "the secret is not echoed"
    (created,) = json.loads(run("connections", "list", "--json")[1])
    assert created["config"] == {"subdomain": "acme"}
    assert created["fields"]["email"] == "agent@acme.test"


def test_a_name_in_use_is_refused_before_any_secret_is_asked_for(
    env: Path, database_url: str
) -> None:
    create_connection("sendgrid", "SendGrid - Production", "api_key=SG.cli.CANARYcli0002")
    code, printed = on_terminal(
        _terminal_environ(env, database_url),
        *("connections", "create", "--app", "sendgrid", "--name", " sendgrid - PRODUCTION"),
        answers=[("API key", "SG.never.asked")],
    )
    assert code == 4
    assert printed.strip() == (
        "error [duplicate_name]: a connection named 'SendGrid - Production' already exists"
    )


def test_a_connection_saved_without_a_check_lists_as_not_verified(env: Path) -> None:
    code, _, err = run(
        "connections", "create", "--app", "sendgrid", "--name", "Unchecked",
        "--field", "api_key=SG.unchecked.CANARYunchecked01", "--skip-test",
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = run("connections", "list")
    assert "Unverified" in out and "Active" not in out
    listed = json.loads(run("connections", "list", "--json")[1])
    code, out, _ = run("connections", "show", listed[0]["id"])
    assert "Active, not verified" in out


def test_create_and_show_print_a_connections_warnings(
    env: Path, tmp_path: Path, database_url: str
) -> None:
    definition = tmp_path / "helpdesk.json"
    definition.write_text(json.dumps(retiring(sunset="2099-04-30")))  # the CLI's clock is real
    assert run("apps", "add", str(definition))[0] == 0
    code, out, err = run(
        "connections",
        "create",
        "--app",
        "helpdesk",
        "--auth-kind",
        "api_key",
        "--name",
        "Desk",
        "-f",
        "api_key=CANARYdesk0001",
        "--skip-test",
    )
    assert code == 0, err
    said = "Helpdesk API token connections stop working on 2099-04-30; connect with OAuth instead"
    assert f"warning [method_deprecated]: {said}" in out
    cid = out.split()[1]
    code, out, _ = run("connections", "show", cid)
    assert code == 0 and "Warning" in out and said in " ".join(out.split())
    shown = json.loads(run("connections", "show", cid, "--json")[1])
    assert [w["code"] for w in shown["warnings"]] == ["method_deprecated"]

    created = datetime.fromisoformat(shown["created_at"])
    db = Database(database_url)
    with db.write() as conn:  # as if it were made 20 days ago
        conn.execute(
            update(connections)
            .where(connections.c.id == cid)
            .values(created_at=created - timedelta(days=20))
        )
    db.dispose()
    code, out, _ = run("connections", "show", cid)
    since = (created - timedelta(days=20)).date()
    assert f"unused since {since}; Helpdesk deactivates API token credentials" in " ".join(
        out.split()
    )


def test_a_key_file_is_read_with_field_file_and_never_printed(env: Path, tmp_path: Path) -> None:
    definition = tmp_path / "store-reports.json"
    definition.write_text(json.dumps(SIGNED_JWT_APP))
    assert run("apps", "add", str(definition))[0] == 0
    key = tmp_path / "AuthKey.json"
    key.write_text(json.dumps({"private_key": pki.ec_pem("secp256r1", "cli")}))
    code, out, err = run(
        "connections", "create", "--app", "store-reports", "--name", "Store reports",
        "--field-file", f"key_file={key}", "-f", f"key_id={KEY_ID}",
        "-f", f"issuer_id={SIGNED_JWT_ISSUER}", "--json",
    )  # fmt: skip
    assert code == 0, err
    made = json.loads(out)
    assert made["status"] == "active" and made["account_label"] == f"key {KEY_ID}"
    assert "PRIVATE KEY" not in out + err

    missing = tmp_path / "nowhere.pem"
    code, _, err = run(
        "connections", "create", "--app", "store-reports", "--name", "Other",
        "--field-file", f"key_file={missing}", "--skip-test",
    )  # fmt: skip
    assert code == 2 and f"cannot read {missing}" in err and "Traceback" not in err

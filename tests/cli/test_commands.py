from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.cli import run
from tests.fakes.keys import MASTER_KEY


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
    assert "SendGrid - Production" in out and "Active" in out

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


def test_errors_are_one_line_with_an_exit_code(env: Path) -> None:
    code, _, err = run("connections", "create", "--app", "nope", "--name", "x", "--skip-test")
    assert code == 2
    assert (
        err.strip().splitlines()[-1] == "error [unknown_app]: no app with key 'nope' in the catalog"
    )
    code, _, err = run(
        "connections",
        "create",
        "--app",
        "sendgrid",
        "--name",
        "x",
        "--field",
        "api_key=bad",
        "--skip-test",
    )
    assert code == 2 and "error [invalid_fields]" in err
    assert "bad" not in err.splitlines()[-1].split(":", 1)[1].replace("does not look", "")


def test_projects_and_api_keys(env: Path) -> None:
    code, out, _ = run("projects", "create", "acme", "--json")
    assert code == 0 and json.loads(out)["name"] == "acme"
    code, out, _ = run("api-keys", "create", "--project", "acme", "--role", "runtime", "--json")
    token = json.loads(out)["token"]
    assert token.startswith("gk_")
    code, out, _ = run("api-keys", "list", "--project", "acme")
    assert token not in out and "runtime" in out
    assert run("api-keys", "list", "--project", "nope")[0] == 3


def test_apps(env: Path) -> None:
    _, out, _ = run("apps", "list", "--json")
    assert "sendgrid" in {a["key"] for a in json.loads(out)}
    _code, out, _ = run("apps", "show", "twilio")
    assert json.loads(out)["auth"][0]["kind"] == "basic"


def test_a_project_app_from_a_file(env: Path, tmp_path: Path) -> None:
    import yaml

    from tests.fakes.apps import acme

    definition = tmp_path / "acme.yaml"
    definition.write_text(yaml.safe_dump(acme()))
    code, out, _ = run("apps", "add", str(definition))
    assert (code, out) == (0, "added acme-crm (Acme CRM) to project default\n")
    code, out, _ = run("apps", "list", "--search", "acme")
    assert code == 0 and "acme-crm" in out and "project" in out
    _, out, _ = run("apps", "show", "acme-crm")
    assert json.loads(out)["base_url"] == "https://api.acme.test"
    code, _, err = run("apps", "add", str(definition))
    assert (code, err) == (4, "error [app_exists]: this project already has an app 'acme-crm'\n")
    definition.write_text(yaml.safe_dump(acme(name="Acme CRM 2")))
    assert run("apps", "replace", "acme-crm", str(definition))[0] == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text("key: [unclosed")
    code, _, err = run("apps", "add", str(broken))
    assert code == 2 and err.startswith("error [invalid_app_definition]:")
    assert run("apps", "delete", "acme-crm")[:2] == (0, "deleted acme-crm\n")
    code, _, err = run("apps", "show", "acme-crm")
    assert code == 2 and "unknown_app" in err


def test_audit_list_and_verify(env: Path, database_url: str) -> None:
    from sqlalchemy import create_engine, update

    from gatekey.store.tables import audit_events

    run(
        "connections",
        "create",
        "--app",
        "sendgrid",
        "--name",
        "SG",
        "-f",
        "api_key=SG.a.b",
        "--skip-test",
    )
    run(
        "connections",
        "create",
        "--app",
        "stripe",
        "--name",
        "ST",
        "-f",
        "api_key=sk_test_1",
        "--skip-test",
    )
    code, out, _ = run("audit", "list")
    assert code == 0 and "connection.create" in out
    code, out, _ = run("audit", "verify")
    assert code == 0 and out.startswith("ok: ") and "all intact" in out

    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(update(audit_events).where(audit_events.c.seq == 1).values(outcome="x"))
    engine.dispose()
    code, _, err = run("audit", "verify", "--project", "default")
    assert code == 9
    assert "#1: edited" in err and "error [audit_chain_broken]: 1 break(s)" in err


def test_webhooks_from_the_command_line(env: Path) -> None:
    from tests.fakes.receiver import receiver

    with receiver() as hub:
        code, out, err = run("webhooks", "add", f"{hub.url}/hook", "-e", "connection.created")
        assert code == 0 and out.startswith("added whk_") and "whsec_" in err
        webhook_id = out.split()[1]
        run(
            "connections",
            "create",
            "--app",
            "sendgrid",
            "--name",
            "SG",
            "-f",
            "api_key=SG.a.b",
            "--skip-test",
        )
        assert run("webhooks", "ping", webhook_id)[0] == 0
        code, out, _ = run("worker", "--once")
        assert code == 0 and "sent 2 webhook(s)" in out
        assert sorted(h.headers["Gatekey-Event"] for h in hub.hooks) == [
            "connection.created",
            "webhook.ping",
        ]
    code, out, _ = run("webhooks", "deliveries", webhook_id, "--json")
    assert code == 0 and {d["status"] for d in json.loads(out)} == {"delivered"}
    code, out, _ = run("webhooks", "list")
    assert "delivered 2" in out
    assert run("webhooks", "remove", webhook_id)[0] == 0


def test_master_keys(env: Path) -> None:
    run(
        "connections",
        "create",
        "--app",
        "sendgrid",
        "--name",
        "a",
        "-f",
        "api_key=SG.a.b",
        "--skip-test",
    )
    old = json.loads(run("keys", "list", "--json")[1])[0]["id"]
    code, _, err = run("keys", "retire", old)
    assert code == 4 and "key_in_use" in err
    code, out, _ = run("keys", "rotate")
    assert code == 0 and "rewrapped 1 data key(s)" in out
    listed = json.loads(run("keys", "list", "--json")[1])
    assert [k["data_keys"] for k in listed] == [1, 0]
    assert run("keys", "retire", old)[0] == 0


def test_env_master_keys_cannot_be_added_to(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEKEY_MASTER_KEYS", MASTER_KEY)
    code, _, err = run("keys", "rotate")
    assert code == 8
    assert "put the new key first" in err

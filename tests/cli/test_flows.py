from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.cli import run


def test_flows_from_a_file_and_usage(env: Path, tmp_path: Path) -> None:
    code, out, err = run(
        "connections", "create", "--app", "sendgrid", "--name", "SG",
        "--field", "api_key=SG.cli.flow0001", "--skip-test", "--json",
    )  # fmt: skip
    assert code == 0, err
    cid = json.loads(out)["id"]
    (tmp_path / "flow.yaml").write_text(
        "steps:\n"
        "  - id: mail\n"
        "    app: sendgrid\n"
        f"    connection: {cid}\n"
        "    type: http\n"
        "    http: {method: POST, path: /v3/mail/send, body: {to: '{{ input.email }}'}}\n"
    )
    code, out, err = run(
        "flows", "create", "--name", "Welcome", "--file", str(tmp_path / "flow.yaml"), "--json"
    )
    assert code == 0, err
    flow_id = json.loads(out)["id"]
    code, out, _ = run("connections", "usage", cid)
    assert f"Welcome ({flow_id}): steps mail" in out
    code, _, err = run("connections", "delete", cid, "--yes")
    assert code == 4 and "connection_in_use" in err and "Welcome" in err
    (tmp_path / "bad.yaml").write_text(
        "steps:\n  - {id: x, app: nope, type: http, http: {path: /}}\n"
    )
    code, _, err = run("flows", "create", "--name", "Bad", "--file", str(tmp_path / "bad.yaml"))
    assert code == 2 and "not valid" in err
    code, _, err = run("connections", "delete", cid, "--yes", "--force")
    assert code == 0, err


def test_runs_from_the_command_line(env: Path, tmp_path: Path) -> None:
    code, out, err = run(
        "connections", "create", "--app", "sendgrid", "--name", "SG",
        "--field", "api_key=SG.cli.flow0002", "--skip-test", "--json",
    )  # fmt: skip
    cid = json.loads(out)["id"]
    (tmp_path / "flow.json").write_text(
        json.dumps(
            {
                "steps": [
                    {
                        "id": "echo",
                        "app": "sendgrid",
                        "connection": cid,
                        "type": "python",
                        "python": {"callable": "echo_auth"},
                    }
                ]
            }
        )
    )
    code, out, err = run("flows", "create", "--name", "Echo", "-f", str(tmp_path / "flow.json"))
    flow_id = out.split()[1]
    code, out, err = run("runs", "trigger", flow_id, "--input", '{"who": "ada"}', "--json")
    assert code == 0, err
    run_id = json.loads(out)["id"]
    code, out, err = run("worker", "--once")
    assert "executed 1 run(s)" in out, err
    code, out, _ = run("runs", "show", run_id)
    shown = json.loads(out)
    assert shown["status"] == "failed"  # echo_auth reads steps.scopes, which this flow lacks
    assert shown["steps"][0]["error_code"] == "step_failed"
    assert "flow0002" not in out
    code, out, _ = run("runs", "retry", run_id)
    assert code == 0 and f"retry of {run_id}" in out
    code, out, _ = run("flows", "webhook", flow_id)
    assert f"/hooks/{flow_id}/" in out


def test_export_then_import_into_another_project(
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, err = run(
        "connections", "create", "--app", "sendgrid", "--name", "SG",
        "--field", "api_key=SG.cli.CANARYexport01", "--skip-test",
    )  # fmt: skip
    assert code == 0, err
    monkeypatch.setenv("GK_EXPORT_PASS", "a long enough passphrase")
    target = tmp_path / "export.json"
    code, out, err = run(
        "connections", "export", "--file", str(target), "--passphrase-env", "GK_EXPORT_PASS"
    )
    assert code == 0, err
    assert "CANARYexport01" not in target.read_text()
    assert target.stat().st_mode & 0o777 == 0o600
    code, _, err = run("projects", "create", "staging")
    assert code == 0, err
    code, out, err = run(
        "connections", "import", "--file", str(target), "--passphrase-env", "GK_EXPORT_PASS",
        "--project", "staging",
    )  # fmt: skip
    assert code == 0, err
    assert "imported 1, skipped 0" in out

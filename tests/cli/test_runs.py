"""``gatekey runs``: queue, list, show and retry runs."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.cli import run


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
    code, out, _ = run("runs", "list")
    listed = [line.split() for line in out.splitlines() if line.startswith(" run_")]
    assert [row[1:3] for row in listed] == [["Echo", "queued"], ["Echo", "failed"]], out
    assert [row[-1] for row in listed] == ["UTC", "UTC"], "a readable time, not isoformat"
    code, out, _ = run("flows", "webhook", flow_id)
    assert f"/hooks/{flow_id}/" in out


def test_a_malformed_input_is_one_line_and_exit_2(env: Path) -> None:
    code, _, err = run("runs", "trigger", "flow_01ABCDEFGHJKMNPQRSTVWXYZ0", "--input", "{bad")
    assert code == 2 and err.endswith("\nerror [invalid_input]: --input must be a JSON object\n")
    assert "Traceback" not in err

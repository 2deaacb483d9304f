"""``gatekey flows`` and the connection usage they make."""

from __future__ import annotations

import json
from pathlib import Path

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

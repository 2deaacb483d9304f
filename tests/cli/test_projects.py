"""``gatekey projects`` and ``gatekey api-keys``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.cli import run


def test_projects_and_api_keys(env: Path) -> None:
    code, out, _ = run("projects", "create", "acme", "--json")
    assert code == 0 and json.loads(out)["name"] == "acme"
    code, out, _ = run("api-keys", "create", "--project", "acme", "--role", "runtime", "--json")
    token = json.loads(out)["token"]
    assert token.startswith("gk_")
    code, out, _ = run("api-keys", "list", "--project", "acme")
    assert token not in out and "runtime" in out
    assert run("api-keys", "list", "--project", "nope")[0] == 3

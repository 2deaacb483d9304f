"""The plumbing every command shares: one-line errors with an exit status."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.cli import run


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

"""Run ``gatekey`` commands in-process, as a person would type them."""

from __future__ import annotations

from typer.testing import CliRunner

from gatekey.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


def run(*args: str) -> tuple[int, str, str]:
    """Run one command; return its exit status, standard output and standard error."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def create_connection(app: str, name: str, field: str) -> None:
    """Store a connection without asking the provider (``--skip-test``)."""
    code, _, err = run(
        "connections", "create", "--app", app, "--name", name, "-f", field, "--skip-test"
    )
    assert code == 0, err

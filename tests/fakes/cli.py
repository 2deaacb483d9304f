"""The command line in-process: Typer's runner, wide enough that no line wraps."""

from __future__ import annotations

from typer.testing import CliRunner

from gatekey.cli import app

runner = CliRunner(env={"COLUMNS": "200"})


def run(*args: str) -> tuple[int, str, str]:
    """Run ``gatekey <args>``; return the exit code, stdout and stderr."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr

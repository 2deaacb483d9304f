"""The plumbing every command shares: one-line errors with an exit status."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from gatekey import __version__
from gatekey.cli import app
from gatekey.cli.app import when
from tests.fakes.cli import create_connection, run


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


def test_a_refused_input_lists_every_problem(env: Path, tmp_path: Path) -> None:
    definition = tmp_path / "flow.yaml"
    definition.write_text("steps:\n  - id: a\n    app: sendgrid\n  - bad: 1\n")
    code, _, err = run("flows", "create", "--name", "Broken", "--file", str(definition))
    assert code == 2
    first, *problems = err.strip().splitlines()[-6:]
    assert first.startswith("error [invalid_fields]: the flow definition is not valid: ")
    assert problems == [
        "  - steps.0.type: Field required",
        "  - steps.1.id: Field required",
        "  - steps.1.app: Field required",
        "  - steps.1.type: Field required",
        "  - steps.1.bad: Extra inputs are not permitted",
    ]
    code, _, err = run(
        "connections",
        "create",
        "--app",
        "zendesk",
        "--auth-kind",
        "custom",
        "--name",
        "Z",
        "--skip-test",
    )
    assert err.strip().splitlines()[-1] == (
        "error [invalid_fields]: invalid fields: fields.email: is required; "
        "fields.api_token: is required"
    ), "a message that names every problem is not repeated"


def test_version() -> None:
    assert run("--version") == (0, f"gatekey {__version__}\n", "")


def _helps(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group, as the words that call it."""
    yield path
    if isinstance(command, TyperGroup):
        context = typer.Context(command)
        for name in command.list_commands(context):
            yield from _helps(command.get_command(context, name), (*path, name))


def test_every_help_names_values_with_words_and_every_group_shows_an_example() -> None:
    paths = list(_helps(typer.main.get_command(app)))
    assert len(paths) > 60
    for path in paths:
        code, out, _ = run(*path, "--help")
        assert code == 0, path
        assert not re.search(r"<[a-z][a-z_\[\]|, ]*>", out), (path, out)  # <str>, <list[str]>
        assert "--help  " in out.replace("│", " ")
    for group in ("projects", "api-keys", "apps", "connections", "keys", "audit", "flows"):
        assert f"Example: gatekey {group} " in run(group, "--help")[1]
    _, out, _ = run("connections", "create", "--help")
    assert re.search(r"--field\s+-f\s+NAME=VALUE", out) and re.search(r"--app\s+KEY", out)
    assert re.search(r"--default\s+make it", out), "a flag takes no value"
    _, out, _ = run("connections", "show", "--help")
    assert re.search(r"\*\s+CONNECTION_ID\s+\[required\]", out)


def test_serve_help_gives_its_defaults_and_gatekey_home() -> None:
    _, out, _ = run("serve", "--help")
    text = " ".join(out.replace("│", " ").split())
    assert "GATEKEY_HOME (default ~/.gatekey)" in text
    for option in (
        "--host ADDRESS address to listen on [env var: GATEKEY_HOST] [default: 127.0.0.1]",
        "--port PORT port to listen on [env var: GATEKEY_PORT] [default: 8040]",
    ):
        assert option in text
    assert "Example: gatekey serve --demo --port 8141" in text


def test_tables_fit_80_columns_shortening_ids_not_names(env: Path) -> None:
    names = ["SendGrid - Production (EU region, marketing)", "SendGrid - Staging"]
    for number, name in enumerate(names):
        create_connection("sendgrid", name, f"api_key=SG.cli.CANARYwidth00{number}")
    narrow = CliRunner(env={"COLUMNS": "80"})
    shown = narrow.invoke(app, ["connections", "list"]).stdout
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= 80, shown
    assert [line.split()[0][:5] for line in lines if "conn_" in line] == ["conn_", "conn_"]
    assert any("…" in line for line in lines), "the ids are the ones shortened"
    assert "SendGrid - Staging" in shown
    for word in names[0].split():
        assert word in shown.split(), "names wrap between words, never inside one"
    wide = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["connections", "list"]).stdout
    assert "…" not in wide, "whole ids where they fit"


def test_when_reads_as_a_date_and_time_in_utc() -> None:
    moment = datetime(2026, 12, 2, 14, 5, 16, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert when(moment) == "2026-12-02 13:05:16 UTC"
    assert when(None) == ""

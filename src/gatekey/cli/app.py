"""The plumbing every ``gatekey`` command shares: the Typer app, exit codes, output, and the
runtime a command works on.

Errors print one line, ``error [code]: message``, then each problem of a refused input the
message does not already name (``field: message``, as the API's problem document lists them),
and exit with a status chosen by the code.
A command opens Gatekey with ``opened()`` (a runtime, closed when the command ends) or, acting
in one project as the local operator, ``operating(project)`` (the runtime and the actor).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from gatekey import __version__, errors
from gatekey.cli.help import Group
from gatekey.models import Project
from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings

app = typer.Typer(
    cls=Group,
    rich_markup_mode="markdown",
    epilog="Start with: gatekey serve --demo  (the README walks through the rest)",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(asked: bool) -> None:
    if asked:
        typer.echo(f"gatekey {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """Gatekey: encrypted connections for workflow automation."""


out = Console()
err = Console(stderr=True, soft_wrap=True)

_EXIT = [
    (errors.InvalidInput, 2),
    (errors.NotFound, 3),
    (errors.Conflict, 4),
    (errors.ConnectionInactive, 4),
    (errors.AuthenticationFailed, 5),
    (errors.PermissionDenied, 5),
    (errors.CredentialsRejected, 6),
    (errors.ProviderUnavailable, 7),
    (errors.DestinationBlocked, 2),
    (errors.CryptoError, 8),
]

ProjectOpt = Annotated[
    str, typer.Option("--project", "-p", help="project name or id", metavar="PROJECT")
]
ConfigOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--config", "-c", help="a non-secret setting, e.g. subdomain=acme", metavar="NAME=VALUE"
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]


def group(summary: str, example: str) -> typer.Typer:
    """A command group that shows its help, ending with an example, when called without a
    command."""
    return typer.Typer(
        cls=Group,
        help=summary,
        epilog=f"Example: {example}",
        no_args_is_help=True,
        rich_markup_mode="markdown",
    )


def exit_code(exc: errors.GatekeyError) -> int:
    for kind, code in _EXIT:
        if isinstance(exc, kind):
            return code
    return 1


NEXT_COMMAND = {
    "replace_app": "gatekey apps replace {key} FILE",
    "start_authorization": "gatekey connections connect --app {app}",
    "signin_link": "gatekey signin-link",
    "rotate_master_key": "gatekey keys rotate",
    "skip_test": "gatekey connections create --app {app} ... --skip-test",
    "force_delete": "gatekey connections delete {id} --force",
    "reconnect": "gatekey connections reconnect {id}",
}
"""A hint's next step (``errors.NEXT_STEPS``) as the command that takes it."""


def message_of(exc: errors.GatekeyError) -> str:
    """The message, and the command that takes its hint's next step."""
    if exc.hint is None:
        return exc.message
    return f"{exc.message}: run '{NEXT_COMMAND[exc.hint.action].format(**exc.hint.params)}'"


def problems_of(exc: errors.GatekeyError) -> list[str]:
    """Each ``field: message`` of ``details["errors"]``, unless the message says them all."""
    found = exc.details.get("errors")
    if not isinstance(found, list):
        return []
    lines = [f"{p.get('field', '?')}: {p.get('message', '')}" for p in found if isinstance(p, dict)]
    return [] if all(line in exc.message for line in lines) else lines


def fail(exc: errors.GatekeyError) -> typer.Exit:
    """Print the error, and its problems one a line; return the exit to raise."""
    err.print(f"error [{exc.code}]: {message_of(exc)}", markup=False, highlight=False)
    for line in problems_of(exc):
        err.print(f"  - {line}", markup=False, highlight=False)
    return typer.Exit(exit_code(exc))


@contextmanager
def opened(settings: Settings | None = None) -> Iterator[Runtime]:
    """Open Gatekey for one command; errors become one line and an exit status."""
    runtime: Runtime | None = None
    try:
        runtime = open_runtime(settings or Settings())
        announce(runtime)
        yield runtime
    except errors.GatekeyError as exc:
        raise fail(exc) from None
    finally:
        if runtime is not None:
            runtime.close()


@dataclass(frozen=True)
class Operator:
    """An open runtime and the local operator acting in one of its projects."""

    runtime: Runtime
    actor: Actor

    @property
    def service(self) -> Service:
        return self.runtime.service


@contextmanager
def operating(project: str) -> Iterator[Operator]:
    """``opened()``, acting as the operator in ``project`` (a name or an id)."""
    with opened() as runtime:
        yield Operator(runtime, actor(runtime, project))


def actor(runtime: Runtime, project: str) -> Actor:
    """The local operator in ``project`` (a name or an id)."""
    return Actor.operator(runtime.service.system.find_project(project).id)


def announce(runtime: Runtime) -> Project:
    """Say what opening Gatekey created: the master key file, the first project's key."""
    if runtime.key_file_created:
        err.print(
            f"Created master key file {runtime.settings.master_key_file} (mode 0600). "
            "Back it up: without it nothing stored can be decrypted.",
            markup=False,
        )
    project, key = runtime.service.system.bootstrap()
    if key is not None:
        err.print(
            f"Created project 'default' and its admin API key (shown once):\n  {key.token}",
            markup=False,
        )
    return project


def emit(value: Any, as_json: bool, render: Callable[[], None]) -> None:
    """Print ``value`` as JSON for scripts, or ``render`` it for a person."""
    if as_json:
        out.print_json(json.dumps(_plain(value)))
    else:
        render()


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


ID_MIN = 12
"""The fewest characters an id column shrinks to (``conn_01M8VD…``) when a table is too wide."""


def table(title: str, columns: Sequence[str], data: Sequence[Sequence[Any]]) -> None:
    """Print rows as a table that fits the terminal: columns named ``ID`` or ``... ID`` hold ids,
    shortened with an ellipsis first when the rows are too wide (``--json`` and ``show`` give
    them whole); other cells wrap between words, never inside one."""
    shown = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    ids = [n for n, column in enumerate(columns) if column == "ID" or column.endswith(" ID")]
    for number, column in enumerate(columns):
        shown.add_column(column, no_wrap=number in ids, overflow="ellipsis")
    for row in data:
        shown.add_row(*("" if v is None else str(v) for v in row))
    unbounded = out.options.update_width(10_000)
    excess = Measurement.get(out, unbounded, shown).maximum - out.width
    for number in ids:
        if excess <= 0:
            break
        held = shown.columns[number]
        natural = max(len(str(held.header)), *(len(str(cell)) for cell in held.cells))
        narrower = max(ID_MIN, natural - excess)
        held.max_width = narrower
        excess -= natural - narrower
    out.print(shown)


def when(moment: datetime | None) -> str:
    """A time as people read it: ``2026-12-02 13:05:16 UTC`` (empty for none)."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def pairs(values: list[str] | None, what: str) -> dict[str, Any]:
    """Parse repeated ``name=value`` options."""
    result: dict[str, Any] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise errors.InvalidInput(f"{what} must be given as name=value")
        result[name.strip()] = value
    return result

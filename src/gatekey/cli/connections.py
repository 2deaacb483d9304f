"""``gatekey connections``: create, inspect, test and delete a project's connections, and
see or move the flow steps that use one.

The OAuth consent commands (``connect``, ``reconnect``, ``authorization``) are in
``cli.connect`` and export/import in ``cli.transfer``, on this same group.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from gatekey import errors
from gatekey.cli.app import (
    ConfigOpt,
    JsonOpt,
    Operator,
    ProjectOpt,
    emit,
    group,
    operating,
    out,
    pairs,
    table,
    when,
)
from gatekey.cli.fields import ask_missing
from gatekey.domain.connection import clean_name, name_key
from gatekey.models import Connection
from gatekey.service.credentials import method_of

commands = group(
    "Connections of a project.",
    "gatekey connections create --app sendgrid --name 'SendGrid - Production'",
)


def _status(c: Connection, *, short: bool = False) -> str:
    """Active (verified or not: no provider check has passed yet), or Inactive and why;
    ``short`` for a table column."""
    if c.status.value == "active":
        if c.verified_at is not None:
            return "Active"
        return "Unverified" if short else "Active, not verified"
    return f"Inactive ({c.status_reason.value if c.status_reason else 'unknown'})"


def _show(c: Connection) -> None:
    rows = [
        ("ID", c.id),
        ("Name", c.name),
        ("App", f"{c.app} ({c.auth_kind.value})"),
        ("Status", _status(c)),
        ("Default", "yes" if c.is_default else "no"),
        ("Account", c.account_label or "-"),
        *[(f"field {k}", str(v)) for k, v in c.fields.items()],
        *[(f"config {k}", str(v)) for k, v in c.config.items()],
        ("Last used", when(c.last_used_at) or "never"),
        ("Created", when(c.created_at)),
    ]
    if c.status_message:
        rows.insert(4, ("Reason", c.status_message))
    rows.extend(("Warning", w.message) for w in c.warnings)
    table(c.name, ["", ""], rows)


def _warn(c: Connection) -> None:
    """Print what the connection's view warns of, one line each."""
    for w in c.warnings:
        out.print(f"warning [{w.code}]: {w.message}", markup=False)


@commands.command("list")
def connections_list(
    project: ProjectOpt = "default",
    status: Annotated[str | None, typer.Option(help="active or inactive")] = None,
    app_key: Annotated[str | None, typer.Option("--app", help="app key", metavar="KEY")] = None,
    search: Annotated[str | None, typer.Option("--search", "-s")] = None,
    limit: int = 200,
    as_json: JsonOpt = False,
) -> None:
    """List connections (no secret is ever shown)."""
    with operating(project) as op:
        items: list[Connection] = []
        cursor = None
        while True:
            page = op.service.connections.list(
                op.actor,
                status=status,
                app=app_key,
                text=search,
                cursor=cursor,
                limit=min(limit, 200),
            )
            items.extend(page.items)
            cursor = page.next_cursor
            if cursor is None or len(items) >= limit:
                break
        emit(
            items[:limit],
            as_json,
            lambda: (
                table(
                    "Connections",
                    ["ID", "Name", "App", "Status", "Default", "Account"],
                    [
                        (
                            c.id,
                            c.name,
                            c.app,
                            _status(c, short=True),
                            "★" if c.is_default else "",
                            c.account_label,
                        )
                        for c in items[:limit]
                    ],
                )
                if items
                else out.print(
                    "No connections yet. Create one with: gatekey connections create "
                    "--app sendgrid "
                    "--name 'SendGrid - Production'"
                )
            ),
        )


@commands.command("show")
def connections_show(
    connection_id: str, project: ProjectOpt = "default", as_json: JsonOpt = False
) -> None:
    """Show one connection."""
    with operating(project) as op:
        c = op.service.connections.get(op.actor, connection_id)
        emit(c, as_json, lambda: _show(c))


@commands.command("create")
def connections_create(
    app_key: Annotated[
        str, typer.Option("--app", help="app key, see 'gatekey apps list'", metavar="KEY")
    ],
    name: Annotated[str, typer.Option(help='a descriptive name, e.g. "SendGrid - Production"')],
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            "-f",
            help="a credential field; secret ones left out are asked for, hidden",
            metavar="NAME=VALUE",
        ),
    ] = None,
    config: ConfigOpt = None,
    fields_file: Annotated[Path | None, typer.Option(help="JSON object of fields")] = None,
    field_file: Annotated[
        list[str] | None,
        typer.Option(
            "--field-file",
            help="a field read from a file: a service-account JSON key, a PEM key or "
            "certificate (kept out of the shell's history)",
            metavar="NAME=PATH",
        ),
    ] = None,
    auth_kind: Annotated[str | None, typer.Option(help="when the app offers several")] = None,
    default: Annotated[bool, typer.Option("--default", help="make it the app's default")] = False,
    skip_test: Annotated[bool, typer.Option(help="store without asking the provider")] = False,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Create a connection; the provider checks the credentials first unless --skip-test.

    Required fields and config left out are asked for on a terminal (secrets hidden), once
    the app, the auth kind and the name are known to be good.
    """
    with operating(project) as op:
        values = pairs(field, "--field")
        if fields_file is not None:
            values = {**_fields_of(fields_file), **values}
        values.update(_field_files(pairs(field_file, "--field-file")))
        method = method_of(op.service.apps.get(op.actor, app_key), auth_kind)
        _name_free(op, name)
        settings = ask_missing(method.config, pairs(config, "--config"), secrets=False)
        values = ask_missing(method.fields, values, secrets=False)
        values = ask_missing(method.fields, values, secrets=True)
        c = op.service.connections.create(
            op.actor,
            app=app_key,
            name=name,
            fields=values,
            config=settings,
            auth_kind=auth_kind,
            is_default=True if default else None,
            validate=not skip_test,
        )
        emit(c, as_json, lambda: _created(c))


def _created(c: Connection) -> None:
    out.print(
        f"created {c.id} {c.name!r} ({_status(c)}"
        + (f", connected as {c.account_label}" if c.account_label else "")
        + (", default" if c.is_default else "")
        + ")",
        markup=False,
    )
    _warn(c)


@commands.command("rename")
def connections_rename(
    connection_id: str, name: str, project: ProjectOpt = "default", as_json: JsonOpt = False
) -> None:
    """Rename a connection (its ID stays)."""
    with operating(project) as op:
        c = op.service.connections.rename(op.actor, connection_id, name)
        emit(c, as_json, lambda: out.print(f"renamed {c.id} to {c.name!r}", markup=False))


@commands.command("set-default")
def connections_set_default(
    connection_id: str, project: ProjectOpt = "default", as_json: JsonOpt = False
) -> None:
    """Make a connection the default for its app."""
    with operating(project) as op:
        c = op.service.connections.set_default(op.actor, connection_id)
        emit(
            c,
            as_json,
            lambda: out.print(f"{c.name!r} is now the default {c.app} connection", markup=False),
        )


@commands.command("test")
def connections_test(
    connection_id: str, project: ProjectOpt = "default", as_json: JsonOpt = False
) -> None:
    """Ask the provider whether the stored credentials still work."""
    with operating(project) as op:
        result = op.service.connections.test(op.actor, connection_id)
        emit(
            result,
            as_json,
            lambda: out.print(
                ("ok: " if result.ok else "failed: ")
                + result.message
                + (f" (connected as {result.account_label})" if result.account_label else ""),
                markup=False,
            ),
        )
        if not result.ok:
            raise typer.Exit(6)


@commands.command("credentials")
def connections_credentials(connection_id: str, project: ProjectOpt = "default") -> None:
    """Print the credentials as JSON, as an execution gets them (audited)."""
    with operating(project) as op:
        creds = op.service.credentials.resolve(op.actor, connection_id)
        typer.echo(creds.model_dump_json(indent=2))


@commands.command("delete")
def connections_delete(
    connection_id: str,
    project: ProjectOpt = "default",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    force: Annotated[bool, typer.Option(help="delete even if flows use it")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete a connection (refused while flows use it, unless --force)."""
    with operating(project) as op:
        c = op.service.connections.get(op.actor, connection_id)
        if not yes and sys.stdin.isatty():
            typer.confirm(f"Delete {c.name!r} ({c.id})?", abort=True)
        deleted = op.service.connections.delete(op.actor, connection_id, force=force)
        emit(deleted, as_json, lambda: out.print(deleted.message, markup=False))


@commands.command("usage")
def connections_usage(
    connection_id: str, project: ProjectOpt = "default", as_json: JsonOpt = False
) -> None:
    """Which flows (and steps) use a connection."""
    with operating(project) as op:
        found = op.service.flows.usage(op.actor, connection_id)
        emit(
            found,
            as_json,
            lambda: out.print(
                "\n".join(
                    f"{u.flow_name} ({u.flow_id}): steps {', '.join(u.steps)}"
                    + (" [as the app default]" if u.by_default else "")
                    for u in found.flows
                )
                or "no flow uses it",
                markup=False,
            ),
        )


@commands.command("replace")
def connections_replace(
    connection_id: str,
    replacement: Annotated[
        str, typer.Option("--with", help="the connection to use instead", metavar="CONNECTION_ID")
    ],
    project: ProjectOpt = "default",
) -> None:
    """Point every flow step that uses a connection at another one of the same app."""
    with operating(project) as op:
        moved = op.service.flows.replace_connection(op.actor, connection_id, replacement)
        out.print(f"moved {moved} step(s) to {replacement}", markup=False)


def _name_free(op: Operator, name: str) -> None:
    """Refuse a name the project already uses before anything is asked (the service checks
    again as it stores the connection)."""
    wanted = clean_name(name)
    cursor = None
    while True:
        page = op.service.connections.list(op.actor, text=wanted, cursor=cursor, limit=200)
        for c in page.items:
            if name_key(c.name) == name_key(wanted):
                raise errors.DuplicateName(f"a connection named {c.name!r} already exists")
        cursor = page.next_cursor
        if cursor is None:
            return


MAX_FIELD_FILE = 64 * 1024
"""A service-account JSON key is about 2.4 KB, a 4,096-bit PEM key about 3.3 KB."""


def _field_files(named: dict[str, Any]) -> dict[str, str]:
    """Each ``NAME=PATH`` as the file's text; a file that cannot be read, is too large or is
    not text is ``invalid_input`` naming the file, never any of its content."""
    read: dict[str, str] = {}
    for name, path in named.items():
        file = Path(str(path)).expanduser()
        try:
            if file.stat().st_size > MAX_FIELD_FILE:
                raise errors.InvalidInput(
                    f"{file} is larger than {MAX_FIELD_FILE // 1024} KiB: is it the key file?"
                )
            read[name] = file.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise errors.InvalidInput(f"cannot read {file}: {type(exc).__name__}") from None
    return read


def _fields_of(file: Path) -> dict[str, Any]:
    """The fields in a JSON file; anything else is ``invalid_input`` naming the file."""
    try:
        found = json.loads(file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise errors.InvalidInput(f"cannot read {file}: {type(exc).__name__}") from None
    if not isinstance(found, dict):
        raise errors.InvalidInput(f"{file} must hold a JSON object of fields")
    return found

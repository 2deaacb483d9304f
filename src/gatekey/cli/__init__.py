"""The ``gatekey`` command (Typer): a thin adapter over the connection service.

Errors print one line, ``error [code]: message``, and exit with a status chosen by the code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from gatekey import errors, logs
from gatekey.domain.connection import Role
from gatekey.models import Connection, Project, RotationProgress
from gatekey.runtime import Runtime, install_demo, open_runtime
from gatekey.service import Actor
from gatekey.settings import Settings

app = typer.Typer(
    help="Gatekey: encrypted connections for workflow automation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
projects_app = typer.Typer(
    help="Projects: the scope of keys and connections.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys of a project.", no_args_is_help=True)
apps_app = typer.Typer(help="The app catalog.", no_args_is_help=True)
connections_app = typer.Typer(help="Connections of a project.", no_args_is_help=True)
master_app = typer.Typer(help="Master keys: list, rotate, retire.", no_args_is_help=True)
app.add_typer(projects_app, name="projects")
app.add_typer(keys_app, name="api-keys")
app.add_typer(apps_app, name="apps")
app.add_typer(connections_app, name="connections")
app.add_typer(master_app, name="keys")

out = Console()
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")

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

ProjectOpt = Annotated[str, typer.Option("--project", "-p", help="project name or id")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]


def exit_code(exc: errors.GatekeyError) -> int:
    for kind, code in _EXIT:
        if isinstance(exc, kind):
            return code
    return 1


@contextmanager
def _runtime() -> Iterator[Runtime]:
    """Open Gatekey for one command; errors become one line and an exit status."""
    runtime: Runtime | None = None
    try:
        runtime = open_runtime(Settings())
        _announce(runtime)
        yield runtime
    except errors.GatekeyError as exc:
        raise _fail(exc) from None
    finally:
        if runtime is not None:
            runtime.close()


def _fail(exc: errors.GatekeyError) -> typer.Exit:
    """Print the one-line error and return the exit to raise."""
    err.print(f"error [{exc.code}]: {exc.message}", markup=False, highlight=False)
    return typer.Exit(exit_code(exc))


def _announce(runtime: Runtime) -> Project:
    if runtime.key_file_created:
        err.print(
            f"Created master key file {runtime.settings.master_key_file} (mode 0600). "
            "Back it up: without it nothing stored can be decrypted.",
            markup=False,
        )
    project, key = runtime.service.bootstrap()
    if key is not None:
        err.print(
            f"Created project 'default' and its admin API key (shown once):\n  {key.token}",
            markup=False,
        )
    return project


def _actor(runtime: Runtime, project: str) -> Actor:
    return Actor.operator(runtime.service.find_project(project).id)


def _emit(value: Any, as_json: bool, render: Callable[[], None]) -> None:
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


def _table(title: str, columns: Sequence[str], data: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left", show_lines=False)
    for number, column in enumerate(columns):
        table.add_column(column, no_wrap=number == 0, overflow="fold")
    for row in data:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)


def _pairs(values: list[str] | None, what: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise errors.InvalidInput(f"{what} must be given as name=value")
        result[name.strip()] = value
    return result


# -- serve ------------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to bind")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="serve the Sandbox OAuth app under /sandbox")
    ] = False,
) -> None:
    """Start the HTTP API (migrates the database first)."""
    import uvicorn

    from gatekey.api.app import create_app

    overrides: dict[str, Any] = {"demo": True} if demo else {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    settings = Settings(**overrides)
    logs.configure(settings.log_level, settings.log_format)
    try:
        runtime = open_runtime(settings)
        project = _announce(runtime)
        install_demo(runtime, project.id)
    except errors.GatekeyError as exc:
        raise _fail(exc) from None
    bind_host = host or settings.host
    bind_port = port or settings.port
    err.print(
        f"Gatekey {runtime.db.url.render_as_string(hide_password=True)} "
        f"serving on http://{bind_host}:{bind_port}  (API docs: /docs)",
        markup=False,
    )
    signin.announce_link(runtime, project.id)
    if runtime.sandbox is not None:
        err.print(
            f"Demo: the Sandbox OAuth app is served at {settings.origin}/sandbox; connect it with "
            'POST /api/v1/oauth/sessions {"app": "sandbox"}',
            markup=False,
        )
    uvicorn.run(
        create_app(runtime, close_runtime=True, refresh_in_background=True),
        host=bind_host,
        port=bind_port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's records go through Gatekey's redacting handler
        access_log=False,
    )


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    with _runtime():
        out.print("database is up to date")


# -- projects and API keys --------------------------------------------------------------------


@projects_app.command("create")
def projects_create(name: str, as_json: JsonOpt = False) -> None:
    """Create a project."""
    with _runtime() as rt:
        project = rt.service.create_project(name)
        _emit(project, as_json, lambda: out.print(f"created project {project.name} ({project.id})"))


@projects_app.command("list")
def projects_list(as_json: JsonOpt = False) -> None:
    """List projects."""
    with _runtime() as rt:
        found = rt.service.list_projects()
        _emit(
            found,
            as_json,
            lambda: _table(
                "Projects", ["ID", "Name", "Created"], [(p.id, p.name, p.created_at) for p in found]
            ),
        )


@keys_app.command("create")
def api_keys_create(
    project: ProjectOpt = "default",
    role: Annotated[
        Role, typer.Option(help="admin manages; runtime resolves credentials")
    ] = Role.RUNTIME,
    name: Annotated[str, typer.Option(help="what the key is for")] = "cli",
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; the token is printed once."""
    with _runtime() as rt:
        key = rt.service.create_api_key(_actor(rt, project), name=name, role=role.value)
        _emit(
            key,
            as_json,
            lambda: out.print(
                f"created {key.role.value} key {key.id}; the token is shown only now:\n{key.token}",
                markup=False,
            ),
        )


@keys_app.command("list")
def api_keys_list(project: ProjectOpt = "default", as_json: JsonOpt = False) -> None:
    """List API keys (never their tokens)."""
    with _runtime() as rt:
        found = rt.service.list_api_keys(_actor(rt, project))
        _emit(
            found,
            as_json,
            lambda: _table(
                "API keys",
                ["ID", "Name", "Role", "Ends with", "Created", "Revoked"],
                [(k.id, k.name, k.role.value, k.hint, k.created_at, k.revoked_at) for k in found],
            ),
        )


@keys_app.command("revoke")
def api_keys_revoke(key_id: str, project: ProjectOpt = "default") -> None:
    """Revoke an API key at once."""
    with _runtime() as rt:
        rt.service.revoke_api_key(_actor(rt, project), key_id)
        out.print(f"revoked {key_id}")


# -- apps -------------------------------------------------------------------------------------


@apps_app.command("list")
def apps_list(
    search: Annotated[str | None, typer.Option("--search", "-s")] = None,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """List the apps Gatekey can connect to: the catalog and the project's own apps."""
    with _runtime() as rt:
        found = rt.service.list_apps(_actor(rt, project), search)
        _emit(
            found,
            as_json,
            lambda: _table(
                "Apps",
                ["Key", "Name", "Auth", "Source", "Docs"],
                [(a.key, a.name, ", ".join(a.auth_kinds), a.source, a.docs_url) for a in found],
            ),
        )


@apps_app.command("show")
def apps_show(key: str, project: ProjectOpt = "default") -> None:
    """Show an app's definition (fields, how they are applied, test request)."""
    from gatekey.catalog.schema import public_view

    with _runtime() as rt:
        out.print_json(json.dumps(public_view(rt.service.get_app(_actor(rt, project), key))))


def _definition_file(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise _fail(errors.InvalidAppDefinition(f"{path}: cannot read it: {exc}")) from None


DefinitionFile = Annotated[
    Path, typer.Argument(help="app definition, YAML or JSON, in the catalog's schema")
]


@apps_app.command("add")
def apps_add(file: DefinitionFile, project: ProjectOpt = "default") -> None:
    """Add an app to a project from a definition file (validated like the catalog's own)."""
    definition = _definition_file(file)
    with _runtime() as rt:
        added = rt.service.add_app(_actor(rt, project), definition)
        out.print(f"added {added.key} ({added.name}) to project {project}")


@apps_app.command("replace")
def apps_replace(key: str, file: DefinitionFile, project: ProjectOpt = "default") -> None:
    """Replace one of a project's apps with a new definition (same key)."""
    definition = _definition_file(file)
    with _runtime() as rt:
        changed = rt.service.replace_app(_actor(rt, project), key, definition)
        out.print(f"replaced {changed.key} ({changed.name})")


@apps_app.command("delete")
def apps_delete(key: str, project: ProjectOpt = "default") -> None:
    """Delete one of a project's apps; refused while connections or flows use it."""
    with _runtime() as rt:
        rt.service.delete_app(_actor(rt, project), key)
        out.print(f"deleted {key}")


# -- connections ------------------------------------------------------------------------------


def _status(c: Connection) -> str:
    if c.status.value == "active":
        return "Active"
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
        ("Last used", c.last_used_at or "never"),
        ("Created", c.created_at),
    ]
    if c.status_message:
        rows.insert(4, ("Reason", c.status_message))
    _table(c.name, ["", ""], rows)


@connections_app.command("list")
def connections_list(
    project: ProjectOpt = "default",
    status: Annotated[str | None, typer.Option(help="active or inactive")] = None,
    app_key: Annotated[str | None, typer.Option("--app", help="app key")] = None,
    search: Annotated[str | None, typer.Option("--search", "-s")] = None,
    limit: int = 200,
    as_json: JsonOpt = False,
) -> None:
    """List connections (no secret is ever shown)."""
    with _runtime() as rt:
        actor = _actor(rt, project)
        items: list[Connection] = []
        cursor = None
        while True:
            page = rt.service.list_connections(
                actor, status=status, app=app_key, text=search, cursor=cursor, limit=min(limit, 200)
            )
            items.extend(page.items)
            cursor = page.next_cursor
            if cursor is None or len(items) >= limit:
                break
        _emit(
            items[:limit],
            as_json,
            lambda: (
                _table(
                    "Connections",
                    ["ID", "Name", "App", "Status", "Default", "Account"],
                    [
                        (
                            c.id,
                            c.name,
                            c.app,
                            _status(c),
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


@connections_app.command("show")
def connections_show(
    connection_id: str, project: ProjectOpt = "default", as_json: JsonOpt = False
) -> None:
    """Show one connection."""
    with _runtime() as rt:
        c = rt.service.get_connection(_actor(rt, project), connection_id)
        _emit(c, as_json, lambda: _show(c))


@connections_app.command("create")
def connections_create(
    app_key: Annotated[str, typer.Option("--app", help="app key, see 'gatekey apps list'")],
    name: Annotated[str, typer.Option(help='a descriptive name, e.g. "SendGrid - Production"')],
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field", "-f", help="name=value; secret fields left out are asked for, hidden"
        ),
    ] = None,
    config: Annotated[list[str] | None, typer.Option("--config", "-c", help="name=value")] = None,
    fields_file: Annotated[Path | None, typer.Option(help="JSON object of fields")] = None,
    auth_kind: Annotated[str | None, typer.Option(help="when the app offers several")] = None,
    default: Annotated[bool, typer.Option("--default", help="make it the app's default")] = False,
    skip_test: Annotated[bool, typer.Option(help="store without asking the provider")] = False,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Create a connection; the provider checks the credentials first unless --skip-test."""
    with _runtime() as rt:
        values = _pairs(field, "--field")
        if fields_file is not None:
            values = {**json.loads(fields_file.read_text("utf-8")), **values}
        actor = _actor(rt, project)
        entry = rt.service.get_app(actor, app_key)
        try:
            wanted = entry.method(auth_kind).fields
        except LookupError:
            wanted = entry.auth[0].fields
        for fname in wanted.required:
            if fname not in values and sys.stdin.isatty():
                spec = wanted.properties[fname]
                values[fname] = typer.prompt(spec.title, hide_input=spec.secret)
        c = rt.service.create_connection(
            actor,
            app=app_key,
            name=name,
            fields=values,
            config=_pairs(config, "--config"),
            auth_kind=auth_kind,
            is_default=True if default else None,
            validate=not skip_test,
        )
        _emit(
            c,
            as_json,
            lambda: out.print(
                f"created {c.id} {c.name!r} ({_status(c)}"
                + (f", connected as {c.account_label}" if c.account_label else "")
                + (", default" if c.is_default else "")
                + ")",
                markup=False,
            ),
        )


@connections_app.command("rename")
def connections_rename(
    connection_id: str, name: str, project: ProjectOpt = "default", as_json: JsonOpt = False
) -> None:
    """Rename a connection (its ID stays)."""
    with _runtime() as rt:
        c = rt.service.rename_connection(_actor(rt, project), connection_id, name)
        _emit(c, as_json, lambda: out.print(f"renamed {c.id} to {c.name!r}", markup=False))


@connections_app.command("set-default")
def connections_set_default(
    connection_id: str, project: ProjectOpt = "default", as_json: JsonOpt = False
) -> None:
    """Make a connection the default for its app."""
    with _runtime() as rt:
        c = rt.service.set_default(_actor(rt, project), connection_id)
        _emit(
            c,
            as_json,
            lambda: out.print(f"{c.name!r} is now the default {c.app} connection", markup=False),
        )


@connections_app.command("test")
def connections_test(
    connection_id: str, project: ProjectOpt = "default", as_json: JsonOpt = False
) -> None:
    """Ask the provider whether the stored credentials still work."""
    with _runtime() as rt:
        result = rt.service.test_connection(_actor(rt, project), connection_id)
        _emit(
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


@connections_app.command("credentials")
def connections_credentials(connection_id: str, project: ProjectOpt = "default") -> None:
    """Print the credentials as JSON, as an execution gets them (audited)."""
    with _runtime() as rt:
        creds = rt.service.resolve_credentials(_actor(rt, project), connection_id)
        typer.echo(creds.model_dump_json(indent=2))


@connections_app.command("delete")
def connections_delete(
    connection_id: str,
    project: ProjectOpt = "default",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    force: Annotated[bool, typer.Option(help="delete even if flows use it")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete a connection (refused while flows use it, unless --force)."""
    with _runtime() as rt:
        actor = _actor(rt, project)
        c = rt.service.get_connection(actor, connection_id)
        if not yes and sys.stdin.isatty():
            typer.confirm(f"Delete {c.name!r} ({c.id})?", abort=True)
        deleted = rt.service.delete_connection(actor, connection_id, force=force)
        _emit(deleted, as_json, lambda: out.print(deleted.message, markup=False))


# -- master keys ------------------------------------------------------------------------------


@master_app.command("list")
def master_list(as_json: JsonOpt = False) -> None:
    """List master keys and how many data keys each wraps."""
    with _runtime() as rt:
        found = rt.service.master_keys()
        _emit(
            found,
            as_json,
            lambda: _table(
                "Master keys",
                ["ID", "Primary", "Available", "Data keys"],
                [
                    (
                        k.id,
                        "yes" if k.primary else "",
                        "yes" if k.available else "MISSING",
                        k.data_keys,
                    )
                    for k in found
                ],
            ),
        )


@master_app.command("rotate")
def master_rotate(batch_size: Annotated[int, typer.Option(min=1, max=10000)] = 500) -> None:
    """Add a master key and rewrap every data key to it; run again to resume after a crash."""
    with (
        _runtime() as rt,
        Progress(
            TextColumn("rewrapping"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        ) as bar,
    ):
        task = bar.add_task("rewrap", total=None)

        def report(p: RotationProgress) -> None:
            bar.update(task, completed=p.done, total=p.done + p.remaining)

        result = rt.service.rotate_master_key(batch_size=batch_size, progress=report)
        bar.update(task, completed=result.done, total=max(result.done, 1))
    out.print(f"primary master key is {result.key_id}; rewrapped {result.done} data key(s)")


@master_app.command("retire")
def master_retire(key_id: str) -> None:
    """Remove a master key; refused while any data key still uses it."""
    with _runtime() as rt:
        rt.service.retire_master_key(key_id)
        out.print(f"retired master key {key_id}")


def main() -> None:
    app()


# The audit, flows, OAuth and webhook commands register themselves on the groups above.
from gatekey.cli import audit as audit  # noqa: E402
from gatekey.cli import flows as flows  # noqa: E402
from gatekey.cli import oauth as oauth  # noqa: E402
from gatekey.cli import signin as signin  # noqa: E402
from gatekey.cli import webhooks as webhooks  # noqa: E402

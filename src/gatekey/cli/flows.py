"""CLI commands for flows (definitions from YAML or JSON files) and connection usage."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
import yaml

from gatekey import errors
from gatekey.cli import (
    JsonOpt,
    ProjectOpt,
    _actor,
    _emit,
    _runtime,
    _table,
    app,
    connections_app,
    out,
)

flows_app = typer.Typer(help="Flows whose steps use connections.", no_args_is_help=True)
app.add_typer(flows_app, name="flows")


def _definition(path: Path) -> dict[str, object]:
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise errors.InvalidInput(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise errors.InvalidInput(f"{path} must hold a mapping with 'steps'")
    return data


@flows_app.command("create")
def flows_create(
    name: Annotated[str, typer.Option(help="a name for the flow")],
    file: Annotated[Path, typer.Option("--file", "-f", help="YAML or JSON with 'steps'")],
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Create a flow from a definition file."""
    with _runtime() as rt:
        flow = rt.service.create_flow(_actor(rt, project), name=name, definition=_definition(file))
        _emit(flow, as_json, lambda: out.print(f"created {flow.id} {flow.name!r}", markup=False))


@flows_app.command("update")
def flows_update(
    flow_id: str,
    file: Annotated[Path | None, typer.Option("--file", "-f")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Replace a flow's definition or rename it."""
    with _runtime() as rt:
        flow = rt.service.update_flow(
            _actor(rt, project),
            flow_id,
            name=name,
            definition=_definition(file) if file else None,
        )
        _emit(flow, as_json, lambda: out.print(f"updated {flow.id}", markup=False))


@flows_app.command("list")
def flows_list(project: ProjectOpt = "default", as_json: JsonOpt = False) -> None:
    """List flows and the connections their steps use."""
    with _runtime() as rt:
        found = rt.service.list_flows(_actor(rt, project))
        _emit(
            found,
            as_json,
            lambda: _table(
                "Flows",
                ["ID", "Name", "Steps", "Connections"],
                [
                    (
                        f.id,
                        f.name,
                        len(f.connections),
                        ", ".join(
                            f"{r.step_id}: {r.connection_id or r.app + ' (default)'}"
                            for r in f.connections
                        ),
                    )
                    for f in found
                ],
            ),
        )


@flows_app.command("show")
def flows_show(flow_id: str, project: ProjectOpt = "default") -> None:
    """Print a flow as JSON."""
    with _runtime() as rt:
        flow = rt.service.get_flow(_actor(rt, project), flow_id)
        typer.echo(flow.model_dump_json(indent=2))


@flows_app.command("delete")
def flows_delete(flow_id: str, project: ProjectOpt = "default") -> None:
    """Delete a flow."""
    with _runtime() as rt:
        rt.service.delete_flow(_actor(rt, project), flow_id)
        out.print(f"deleted {flow_id}", markup=False)


@connections_app.command("usage")
def connections_usage(
    connection_id: str, project: ProjectOpt = "default", as_json: JsonOpt = False
) -> None:
    """Which flows (and steps) use a connection."""
    with _runtime() as rt:
        found = rt.service.connection_usage(_actor(rt, project), connection_id)
        _emit(
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


@flows_app.command("webhook")
def flows_webhook(flow_id: str, project: ProjectOpt = "default") -> None:
    """Create or rotate the flow's webhook URL (printed once; the old one stops working)."""
    with _runtime() as rt:
        secret = rt.service.rotate_webhook(_actor(rt, project), flow_id)
        out.print(f"{rt.settings.origin}/hooks/{flow_id}/{secret}", markup=False, soft_wrap=True)


@connections_app.command("replace")
def connections_replace(
    connection_id: str,
    replacement: Annotated[str, typer.Option("--with", help="the connection to use instead")],
    project: ProjectOpt = "default",
) -> None:
    """Point every flow step that uses a connection at another one of the same app."""
    with _runtime() as rt:
        moved = rt.service.replace_connection(_actor(rt, project), connection_id, replacement)
        out.print(f"moved {moved} step(s) to {replacement}", markup=False)


runs_app = typer.Typer(help="Runs of flows.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


@runs_app.command("trigger")
def runs_trigger(
    flow_id: str,
    run_input: Annotated[str, typer.Option("--input", help="a JSON object")] = "{}",
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Queue a run ('gatekey serve' or 'gatekey worker' executes it)."""
    try:
        data = json.loads(run_input)
    except ValueError:
        raise errors.InvalidInput("--input must be a JSON object") from None
    with _runtime() as rt:
        run = rt.service.trigger_run(_actor(rt, project), flow_id, data)
        _emit(run, as_json, lambda: out.print(f"queued {run.id}", markup=False))


@runs_app.command("list")
def runs_list(
    flow: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str | None, typer.Option()] = None,
    connection: Annotated[str | None, typer.Option()] = None,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """List runs, newest first."""
    with _runtime() as rt:
        found = rt.service.list_runs(
            _actor(rt, project), flow_id=flow, status=status, connection_id=connection
        )
        _emit(
            found,
            as_json,
            lambda: _table(
                "Runs",
                ["ID", "Flow", "Status", "Error", "Created"],
                [(r.id, r.flow_id, r.status, r.error_code or "", r.created_at) for r in found],
            ),
        )


@runs_app.command("show")
def runs_show(run_id: str, project: ProjectOpt = "default") -> None:
    """Print a run with its steps as JSON (secrets masked)."""
    with _runtime() as rt:
        typer.echo(rt.service.get_run(_actor(rt, project), run_id).model_dump_json(indent=2))


@runs_app.command("retry")
def runs_retry(run_id: str, project: ProjectOpt = "default", as_json: JsonOpt = False) -> None:
    """Queue a failed run again with its original input."""
    with _runtime() as rt:
        run = rt.service.retry_run(_actor(rt, project), run_id)
        _emit(run, as_json, lambda: out.print(f"queued {run.id} (retry of {run_id})", markup=False))


@connections_app.command("export")
def connections_export(
    file: Annotated[Path, typer.Option("--file", "-f", help="where to write the JSON")],
    passphrase_env: Annotated[
        str | None,
        typer.Option(help="name of an environment variable holding the passphrase"),
    ] = None,
    plaintext: Annotated[
        bool, typer.Option("--plaintext", help="write secrets unencrypted (be careful)")
    ] = False,
    project: ProjectOpt = "default",
) -> None:
    """Export the project's connections; secrets sealed with a passphrase unless --plaintext."""
    passphrase = None
    if passphrase_env:
        passphrase = os.environ.get(passphrase_env)
        if not passphrase:
            raise errors.InvalidInput(f"environment variable {passphrase_env} is empty")
    elif not plaintext:
        passphrase = typer.prompt("Passphrase for the export", hide_input=True, err=True)
    with _runtime() as rt:
        document = rt.service.export_connections(
            _actor(rt, project), passphrase=passphrase, plaintext=plaintext
        )
        file.touch(mode=0o600)
        file.write_text(json.dumps(document, indent=2), "utf-8")
        out.print(
            f"exported {len(document['connections'])} connection(s) to {file}"
            + (" (secrets in PLAINTEXT)" if plaintext and passphrase is None else ""),
            markup=False,
        )


@connections_app.command("import")
def connections_import(
    file: Annotated[Path, typer.Option("--file", "-f", help="a Gatekey export")],
    passphrase_env: Annotated[str | None, typer.Option()] = None,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Import connections (OAuth2 entries keep their tokens: nobody re-authorizes)."""
    try:
        document = json.loads(file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise errors.InvalidInput(f"cannot read {file}: {exc}") from None
    passphrase = None
    if isinstance(document, dict) and document.get("encryption"):
        passphrase = (
            os.environ.get(passphrase_env, "")
            if passphrase_env
            else typer.prompt("Passphrase of the export", hide_input=True, err=True)
        )
    with _runtime() as rt:
        result = rt.service.import_connections(_actor(rt, project), document, passphrase=passphrase)
        _emit(
            result,
            as_json,
            lambda: out.print(
                f"imported {len(result.created)}, skipped {len(result.skipped)}"
                + "".join(f"\n  {s['name']}: [{s['code']}] {s['message']}" for s in result.skipped),
                markup=False,
            ),
        )

"""``gatekey runs``: queue runs of a flow, list and inspect them, retry a failed one."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from gatekey import errors
from gatekey.cli.app import JsonOpt, ProjectOpt, emit, group, operating, out, table, when

commands = group(
    "Runs of flows.",
    'gatekey runs trigger FLOW_ID --input \'{"name": "Ada"}\'',
)


@commands.command("trigger")
def runs_trigger(
    flow_id: str,
    run_input: Annotated[str, typer.Option("--input", help="a JSON object", metavar="JSON")] = "{}",
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Queue a run ('gatekey serve' or 'gatekey worker' executes it)."""
    with operating(project) as op:
        try:
            data = json.loads(run_input)
        except ValueError:
            raise errors.InvalidInput("--input must be a JSON object") from None
        run = op.service.runs.trigger(op.actor, flow_id, data)
        emit(run, as_json, lambda: out.print(f"queued {run.id}", markup=False))


@commands.command("list")
def runs_list(
    flow: Annotated[str | None, typer.Option(help="one flow's runs", metavar="FLOW_ID")] = None,
    status: Annotated[
        str | None, typer.Option(help="queued, running, succeeded or failed", metavar="STATUS")
    ] = None,
    connection: Annotated[
        str | None,
        typer.Option(help="runs that used this connection", metavar="CONNECTION_ID"),
    ] = None,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """List runs, newest first."""
    with operating(project) as op:
        found = op.service.runs.list(
            op.actor, flow_id=flow, status=status, connection_id=connection
        )
        if as_json:
            emit(found, True, lambda: None)
            return
        if not found:
            out.print("No runs yet. Queue one with: gatekey runs trigger FLOW_ID", markup=False)
            return
        names = {f.id: f.name for f in op.service.flows.list(op.actor)}
        table(
            "Runs",
            ["ID", "Flow", "Status", "Error", "Created"],
            [
                (r.id, names.get(r.flow_id, r.flow_id), r.status, r.error_code, when(r.created_at))
                for r in found
            ],
        )


@commands.command("show")
def runs_show(run_id: str, project: ProjectOpt = "default") -> None:
    """Print a run with its steps as JSON (secrets masked)."""
    with operating(project) as op:
        typer.echo(op.service.runs.get(op.actor, run_id).model_dump_json(indent=2))


@commands.command("retry")
def runs_retry(run_id: str, project: ProjectOpt = "default", as_json: JsonOpt = False) -> None:
    """Queue a failed run again with its original input."""
    with operating(project) as op:
        run = op.service.runs.retry(op.actor, run_id)
        emit(run, as_json, lambda: out.print(f"queued {run.id} (retry of {run_id})", markup=False))

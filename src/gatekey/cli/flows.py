"""``gatekey flows``: flows (definitions from YAML or JSON files) and their webhook URLs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from gatekey import errors
from gatekey.cli.app import JsonOpt, ProjectOpt, emit, group, operating, out, table

commands = group(
    "Flows whose steps use connections.",
    'gatekey flows create --name "Who am I" --file examples/whoami.yaml',
)


def _definition(path: Path) -> dict[str, object]:
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise errors.InvalidInput(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise errors.InvalidInput(f"{path} must hold a mapping with 'steps'")
    return data


@commands.command("create")
def flows_create(
    name: Annotated[str, typer.Option(help="a name for the flow")],
    file: Annotated[Path, typer.Option("--file", "-f", help="YAML or JSON with 'steps'")],
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Create a flow from a definition file."""
    with operating(project) as op:
        flow = op.service.flows.create(op.actor, name=name, definition=_definition(file))
        emit(flow, as_json, lambda: out.print(f"created {flow.id} {flow.name!r}", markup=False))


@commands.command("update")
def flows_update(
    flow_id: str,
    file: Annotated[Path | None, typer.Option("--file", "-f")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Replace a flow's definition or rename it."""
    with operating(project) as op:
        flow = op.service.flows.update(
            op.actor,
            flow_id,
            name=name,
            definition=_definition(file) if file else None,
        )
        emit(flow, as_json, lambda: out.print(f"updated {flow.id}", markup=False))


@commands.command("list")
def flows_list(project: ProjectOpt = "default", as_json: JsonOpt = False) -> None:
    """List flows and the connections their steps use."""
    with operating(project) as op:
        found = op.service.flows.list(op.actor)
        emit(
            found,
            as_json,
            lambda: table(
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


@commands.command("show")
def flows_show(flow_id: str, project: ProjectOpt = "default") -> None:
    """Print a flow as JSON."""
    with operating(project) as op:
        flow = op.service.flows.get(op.actor, flow_id)
        typer.echo(flow.model_dump_json(indent=2))


@commands.command("delete")
def flows_delete(flow_id: str, project: ProjectOpt = "default") -> None:
    """Delete a flow."""
    with operating(project) as op:
        op.service.flows.delete(op.actor, flow_id)
        out.print(f"deleted {flow_id}", markup=False)


@commands.command("webhook")
def flows_webhook(flow_id: str, project: ProjectOpt = "default") -> None:
    """Create or rotate the flow's webhook URL (printed once; the old one stops working)."""
    with operating(project) as op:
        secret = op.service.flows.rotate_webhook(op.actor, flow_id)
        out.print(
            f"{op.runtime.settings.origin}/hooks/{flow_id}/{secret}", markup=False, soft_wrap=True
        )

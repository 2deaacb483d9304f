"""``gatekey webhooks``: status webhooks: endpoints, their delivery logs, a test ping."""

from __future__ import annotations

from typing import Annotated

import typer

from gatekey.cli.app import JsonOpt, ProjectOpt, emit, err, group, operating, out, table

commands = group(
    "Status webhooks of a project.",
    "gatekey webhooks add https://hooks.example.com/gatekey -e connection.inactive",
)


@commands.command("add")
def webhooks_add(
    url: str,
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            "-e",
            help="an event type (repeat for several); all if left out",
            metavar="EVENT",
        ),
    ] = None,
    description: Annotated[str, typer.Option()] = "",
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Register an endpoint; prints the signing secret once."""
    with operating(project) as op:
        created = op.service.webhooks.add(
            op.actor, url=url, events=event or None, description=description
        )
        if as_json:
            emit(created, True, lambda: None)
            return
        out.print(f"added {created.id} for {', '.join(created.events)}", markup=False)
        err.print(
            f"Signing secret (shown once; verify the Gatekey-Signature header with it):\n"
            f"  {created.secret}",
            markup=False,
        )


@commands.command("list")
def webhooks_list(project: ProjectOpt = "default", as_json: JsonOpt = False) -> None:
    """The project's endpoints and how their deliveries went."""
    with operating(project) as op:
        found = op.service.webhooks.list(op.actor)
        emit(
            found,
            as_json,
            lambda: table(
                "Webhooks",
                ["ID", "URL", "Events", "Deliveries"],
                [
                    (
                        w.id,
                        w.url,
                        ", ".join(w.events),
                        ", ".join(f"{k} {v}" for k, v in sorted(w.deliveries.items())),
                    )
                    for w in found
                ],
            ),
        )


@commands.command("remove")
def webhooks_remove(webhook_id: str, project: ProjectOpt = "default") -> None:
    """Remove an endpoint and its delivery log."""
    with operating(project) as op:
        op.service.webhooks.delete(op.actor, webhook_id)
        out.print(f"removed {webhook_id}")


@commands.command("deliveries")
def webhooks_deliveries(
    webhook_id: str,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """The delivery log of an endpoint, newest first."""
    with operating(project) as op:
        found = op.service.webhooks.deliveries(op.actor, webhook_id, limit)
        emit(
            found,
            as_json,
            lambda: table(
                "Deliveries",
                ["ID", "Event", "Status", "Attempts", "Last answer"],
                [
                    (d.id, d.event_type, d.status, d.attempts, d.last_error or d.last_status)
                    for d in found
                ],
            ),
        )


@commands.command("ping")
def webhooks_ping(webhook_id: str, project: ProjectOpt = "default") -> None:
    """Queue a webhook.ping event to the endpoint (sent by the worker or the server)."""
    with operating(project) as op:
        op.service.webhooks.ping(op.actor, webhook_id)
        out.print(f"queued a ping to {webhook_id}")

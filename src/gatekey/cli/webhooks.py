"""CLI commands for status webhooks: endpoints, their delivery logs, a test ping."""

from __future__ import annotations

from typing import Annotated

import typer

from gatekey.cli import JsonOpt, ProjectOpt, _actor, _emit, _runtime, _table, app, err, out

webhooks_app = typer.Typer(help="Status webhooks of a project.", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")


@webhooks_app.command("add")
def webhooks_add(
    url: str,
    event: Annotated[
        list[str] | None, typer.Option("--event", "-e", help="an event type; all if left out")
    ] = None,
    description: Annotated[str, typer.Option()] = "",
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Register an endpoint; prints the signing secret once."""
    with _runtime() as rt:
        created = rt.service.add_webhook(
            _actor(rt, project), url=url, events=event or None, description=description
        )
        if as_json:
            _emit(created, True, lambda: None)
            return
        out.print(f"added {created.id} for {', '.join(created.events)}", markup=False)
        err.print(
            f"Signing secret (shown once; verify the Gatekey-Signature header with it):\n"
            f"  {created.secret}",
            markup=False,
        )


@webhooks_app.command("list")
def webhooks_list(project: ProjectOpt = "default", as_json: JsonOpt = False) -> None:
    """The project's endpoints and how their deliveries went."""
    with _runtime() as rt:
        found = rt.service.list_webhooks(_actor(rt, project))
        _emit(
            found,
            as_json,
            lambda: _table(
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


@webhooks_app.command("remove")
def webhooks_remove(webhook_id: str, project: ProjectOpt = "default") -> None:
    """Remove an endpoint and its delivery log."""
    with _runtime() as rt:
        rt.service.delete_webhook(_actor(rt, project), webhook_id)
        out.print(f"removed {webhook_id}")


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    webhook_id: str,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """The delivery log of an endpoint, newest first."""
    with _runtime() as rt:
        found = rt.service.webhook_deliveries(_actor(rt, project), webhook_id, limit)
        _emit(
            found,
            as_json,
            lambda: _table(
                "Deliveries",
                ["ID", "Event", "Status", "Attempts", "Last answer"],
                [
                    (d.id, d.event_type, d.status, d.attempts, d.last_error or d.last_status)
                    for d in found
                ],
            ),
        )


@webhooks_app.command("ping")
def webhooks_ping(webhook_id: str, project: ProjectOpt = "default") -> None:
    """Queue a webhook.ping event to the endpoint (sent by the worker or the server)."""
    with _runtime() as rt:
        rt.service.ping_webhook(_actor(rt, project), webhook_id)
        out.print(f"queued a ping to {webhook_id}")

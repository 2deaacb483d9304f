"""CLI commands for OAuth2: clients, connecting and reconnecting, the background worker."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from gatekey.cli import (
    JsonOpt,
    ProjectOpt,
    _actor,
    _emit,
    _pairs,
    _runtime,
    _table,
    app,
    connections_app,
    err,
    out,
)
from gatekey.models import AuthorizationSession

clients_app = typer.Typer(
    help="OAuth clients (client id and secret) per app.", no_args_is_help=True
)
app.add_typer(clients_app, name="oauth-clients")

ScopeOpt = Annotated[
    list[str] | None, typer.Option("--scope", help="a scope to ask for (repeat for several)")
]


@clients_app.command("add")
def clients_add(
    app_key: Annotated[str, typer.Option("--app", help="app key, see 'gatekey apps list'")],
    client_id: Annotated[str, typer.Option(help="the client id the provider gave you")],
    scope: ScopeOpt = None,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Register the project's OAuth client for an app; the secret is asked for, hidden."""
    secret = typer.prompt("Client secret", hide_input=True, err=True)
    with _runtime() as rt:
        client = rt.service.register_oauth_client(
            _actor(rt, project),
            app=app_key,
            client_id=client_id,
            client_secret=secret,
            scopes=scope,
        )
        _emit(
            client,
            as_json,
            lambda: out.print(f"registered {client.id} for {client.app}", markup=False),
        )


@clients_app.command("list")
def clients_list(project: ProjectOpt = "default", as_json: JsonOpt = False) -> None:
    """List OAuth clients (secrets are never shown)."""
    with _runtime() as rt:
        found = rt.service.list_oauth_clients(_actor(rt, project))
        _emit(
            found,
            as_json,
            lambda: _table(
                "OAuth clients",
                ["ID", "App", "Client ID", "Scopes", "Connections"],
                [
                    (
                        c.id,
                        c.app,
                        c.client_id,
                        " ".join(c.scopes or ["(app defaults)"]),
                        c.connections,
                    )
                    for c in found
                ],
            ),
        )


@clients_app.command("update")
def clients_update(
    oauth_client_id: str,
    client_id: Annotated[str | None, typer.Option(help="a new client id")] = None,
    new_secret: Annotated[bool, typer.Option("--secret", help="ask for a new secret")] = False,
    scope: ScopeOpt = None,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Change a client's id, secret or scopes; its connections keep working."""
    secret = typer.prompt("New client secret", hide_input=True, err=True) if new_secret else None
    with _runtime() as rt:
        client = rt.service.update_oauth_client(
            _actor(rt, project),
            oauth_client_id,
            client_id=client_id,
            client_secret=secret,
            scopes=scope,
        )
        _emit(client, as_json, lambda: out.print(f"updated {client.id}", markup=False))


@clients_app.command("remove")
def clients_remove(oauth_client_id: str, project: ProjectOpt = "default") -> None:
    """Remove an OAuth client that no connection uses."""
    with _runtime() as rt:
        rt.service.delete_oauth_client(_actor(rt, project), oauth_client_id)
        out.print(f"removed {oauth_client_id}", markup=False)


def _follow(session: AuthorizationSession, wait: bool, project: str) -> None:
    err.print("Open this address in a browser and approve access:", markup=False)
    out.print(session.authorize_url or "", markup=False, soft_wrap=True)
    if not wait:
        err.print(f"then check: gatekey connections authorization {session.id}", markup=False)
        return
    err.print("waiting for the approval (Ctrl-C stops waiting)...", markup=False)
    while True:
        time.sleep(1)
        with _runtime() as rt:
            now = rt.service.authorization_status(_actor(rt, project), session.id)
        if now.status == "succeeded":
            out.print(f"connected: {now.connection_id}", markup=False)
            return
        if now.status == "failed":
            err.print(f"error [{now.error_code}]: {now.error_message}", markup=False)
            raise typer.Exit(6)


WaitOpt = Annotated[bool, typer.Option(help="wait until the browser comes back")]


@connections_app.command("connect")
def connections_connect(
    app_key: Annotated[str, typer.Option("--app", help="an OAuth2 app")],
    name: Annotated[str | None, typer.Option(help="a descriptive name")] = None,
    scope: ScopeOpt = None,
    config: Annotated[list[str] | None, typer.Option("--config", "-c", help="name=value")] = None,
    wait: WaitOpt = True,
    project: ProjectOpt = "default",
) -> None:
    """Connect an OAuth2 app: print the consent address, then wait for the outcome.

    The provider sends the browser back to 'gatekey serve', so it must be running.
    """
    with _runtime() as rt:
        session = rt.service.start_authorization(
            _actor(rt, project),
            app=app_key,
            name=name,
            scopes=scope,
            config=_pairs(config, "--config"),
        )
    _follow(session, wait, project)


@connections_app.command("reconnect")
def connections_reconnect(
    connection_id: str, wait: WaitOpt = True, project: ProjectOpt = "default"
) -> None:
    """Run the consent again for a connection; its ID, name and client stay."""
    with _runtime() as rt:
        session = rt.service.start_authorization(_actor(rt, project), connection_id=connection_id)
    _follow(session, wait, project)


@connections_app.command("authorization")
def connections_authorization(
    session_id: str, project: ProjectOpt = "default", as_json: JsonOpt = False
) -> None:
    """Show how an authorization session ended (pending, succeeded, failed)."""
    with _runtime() as rt:
        s = rt.service.authorization_status(_actor(rt, project), session_id)
        _emit(
            s,
            as_json,
            lambda: out.print(
                f"{s.id} {s.status}"
                + (f": {s.connection_id}" if s.connection_id else "")
                + (f" [{s.error_code}] {s.error_message}" if s.error_code else ""),
                markup=False,
            ),
        )


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="sweep once and exit")] = False,
) -> None:
    """Execute queued runs, refresh expiring tokens, send webhooks (what 'serve' also does)."""
    from gatekey.runtime import background_refresher, run_worker, webhook_dispatcher

    with _runtime() as rt:
        refresher = background_refresher(rt)
        runs = run_worker(rt)
        hooks = webhook_dispatcher(rt)
        if once:
            result = refresher.sweep()
            executed = runs.drain()
            sent = hooks.drain()
            out.print(
                f"refreshed {result.refreshed}, failed {result.failed}, deferred {result.deferred}"
                f"; executed {executed} run(s); sent {sent} webhook(s)",
                markup=False,
            )
            return
        err.print(
            f"executing runs with {rt.settings.run_workers} threads, refreshing every "
            f"{rt.settings.refresh_interval:g} s (Ctrl-C stops)",
            markup=False,
        )
        runs.start()
        hooks.start()
        try:
            refresher.run_forever()
        except KeyboardInterrupt:
            refresher.stop()
        finally:
            hooks.stop()
            runs.stop()

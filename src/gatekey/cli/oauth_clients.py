"""``gatekey oauth-clients``: a project's OAuth client (id and secret) per app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gatekey import errors
from gatekey.cli.app import JsonOpt, ProjectOpt, emit, group, operating, out, table

commands = group(
    "OAuth clients (client id and secret) per app.",
    "gatekey oauth-clients add --app github --client-id Iv1.abc  (asks for the secret)",
)
SecretFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--secret-file",
        help="read the secret from this file instead of asking: a GitHub App's PEM private key",
        metavar="PATH",
        exists=True,
        dir_okay=False,
        readable=True,
    ),
]


ScopeOpt = Annotated[
    list[str] | None,
    typer.Option("--scope", help="a scope to ask for (repeat for several)", metavar="SCOPE"),
]


@commands.command("add")
def clients_add(
    app_key: Annotated[
        str, typer.Option("--app", help="app key, see 'gatekey apps list'", metavar="KEY")
    ],
    client_id: Annotated[str, typer.Option(help="the client id the provider gave you")],
    scope: ScopeOpt = None,
    secret_file: SecretFileOpt = None,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Register the project's OAuth client for an app; the secret is asked for, hidden, or
    read from ``--secret-file`` (a GitHub App's private key).

    The app, and that the project has no client for it yet, are checked before it is asked.
    """
    with operating(project) as op:
        entry = op.service.apps.get(op.actor, app_key)
        taken = [c for c in op.service.oauth_clients.list(op.actor) if c.app == entry.key]
        if taken:
            raise errors.Conflict(
                f"an OAuth client for {entry.name} exists already; change it with "
                f"'gatekey oauth-clients update {taken[0].id} --client-id ID --secret'"
            )
        secret = (
            secret_file.read_text()
            if secret_file is not None
            else typer.prompt("Client secret", hide_input=True, err=True)
        )
        client = op.service.oauth_clients.register(
            op.actor,
            app=app_key,
            client_id=client_id,
            client_secret=secret,
            scopes=scope,
        )
        emit(
            client,
            as_json,
            lambda: out.print(f"registered {client.id} for {client.app}", markup=False),
        )


@commands.command("list")
def clients_list(project: ProjectOpt = "default", as_json: JsonOpt = False) -> None:
    """List OAuth clients (secrets are never shown)."""
    with operating(project) as op:
        found = op.service.oauth_clients.list(op.actor)
        emit(
            found,
            as_json,
            lambda: table(
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


@commands.command("update")
def clients_update(
    oauth_client_id: str,
    client_id: Annotated[str | None, typer.Option(help="a new client id")] = None,
    new_secret: Annotated[bool, typer.Option("--secret", help="ask for a new secret")] = False,
    scope: ScopeOpt = None,
    secret_file: SecretFileOpt = None,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Change a client's id, secret or scopes; its connections keep working."""
    secret = typer.prompt("New client secret", hide_input=True, err=True) if new_secret else None
    if secret_file is not None:
        secret = secret_file.read_text()
    with operating(project) as op:
        client = op.service.oauth_clients.update(
            op.actor,
            oauth_client_id,
            client_id=client_id,
            client_secret=secret,
            scopes=scope,
        )
        emit(client, as_json, lambda: out.print(f"updated {client.id}", markup=False))


@commands.command("remove")
def clients_remove(oauth_client_id: str, project: ProjectOpt = "default") -> None:
    """Remove an OAuth client that no connection uses."""
    with operating(project) as op:
        op.service.oauth_clients.delete(op.actor, oauth_client_id)
        out.print(f"removed {oauth_client_id}", markup=False)

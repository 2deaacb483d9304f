"""The ``gatekey`` command (Typer): a thin adapter over the connection service.

``cli.app`` holds the plumbing (the Typer app, exit codes, output, the runtime a command
works on); each other module holds one command group, composed onto the app here in the
order ``gatekey --help`` lists them.
"""

from __future__ import annotations

from gatekey.cli import (
    api_keys,
    apps,
    audit,
    connect,
    connections,
    flows,
    master_keys,
    oauth_clients,
    projects,
    runs,
    serve,
    signin,
    transfer,
    webhooks,
)
from gatekey.cli.app import app

__all__ = ["app", "main"]

app.add_typer(serve.commands)
app.add_typer(signin.commands)
for name, commands in (
    ("projects", projects.commands),
    ("api-keys", api_keys.commands),
    ("apps", apps.commands),
    ("connections", connections.commands),
    ("keys", master_keys.commands),
    ("audit", audit.commands),
    ("flows", flows.commands),
    ("runs", runs.commands),
    ("oauth-clients", oauth_clients.commands),
    ("webhooks", webhooks.commands),
):
    app.add_typer(commands, name=name)
connections.commands.add_typer(transfer.commands)
connections.commands.add_typer(connect.commands)


def main() -> None:
    app()

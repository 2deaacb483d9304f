"""``gatekey connections connect``, ``reconnect`` and ``authorization``: the OAuth2 consent,
started here and finished in a browser that ``gatekey serve`` receives."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from gatekey.cli.app import ConfigOpt, JsonOpt, ProjectOpt, emit, err, operating, out, pairs
from gatekey.cli.oauth_clients import ScopeOpt
from gatekey.models import AuthorizationSession

commands = typer.Typer()
"""Added to ``gatekey connections`` (``cli.connections``)."""


def _follow(session: AuthorizationSession, wait: bool, project: str) -> None:
    err.print("Open this address in a browser and approve access:", markup=False)
    out.print(session.authorize_url or "", markup=False, soft_wrap=True)
    if not wait:
        err.print(f"then check: gatekey connections authorization {session.id}", markup=False)
        return
    err.print("waiting for the approval (Ctrl-C stops waiting)...", markup=False)
    while True:
        time.sleep(1)
        with operating(project) as op:
            now = op.service.authorizations.status(op.actor, session.id)
        if now.status == "succeeded":
            out.print(f"connected: {now.connection_id}", markup=False)
            return
        if now.status == "failed":
            err.print(f"error [{now.error_code}]: {now.error_message}", markup=False)
            raise typer.Exit(6)


WaitOpt = Annotated[bool, typer.Option(help="wait until the browser comes back")]


@commands.command("connect")
def connections_connect(
    app_key: Annotated[str, typer.Option("--app", help="an OAuth2 app", metavar="KEY")],
    name: Annotated[str | None, typer.Option(help="a descriptive name")] = None,
    scope: ScopeOpt = None,
    config: ConfigOpt = None,
    wait: WaitOpt = True,
    project: ProjectOpt = "default",
) -> None:
    """Connect an OAuth2 app: print the consent address, then wait for the outcome.

    The provider sends the browser back to 'gatekey serve', so it must be running.
    """
    with operating(project) as op:
        session = op.service.authorizations.start(
            op.actor,
            app=app_key,
            name=name,
            scopes=scope,
            config=pairs(config, "--config"),
        )
    _follow(session, wait, project)


@commands.command("reconnect")
def connections_reconnect(
    connection_id: str,
    allow_account_switch: Annotated[
        bool, typer.Option(help="accept another account at the provider than the one it had")
    ] = False,
    wait: WaitOpt = True,
    project: ProjectOpt = "default",
) -> None:
    """Run the consent again for a connection; its ID, name and client stay, and so must its
    account unless --allow-account-switch."""
    with operating(project) as op:
        session = op.service.authorizations.start(
            op.actor, connection_id=connection_id, allow_account_switch=allow_account_switch
        )
    _follow(session, wait, project)


@commands.command("authorization")
def connections_authorization(
    session_id: str, project: ProjectOpt = "default", as_json: JsonOpt = False
) -> None:
    """Show how an authorization session ended (pending, succeeded, failed)."""
    with operating(project) as op:
        s = op.service.authorizations.status(op.actor, session_id)
        emit(
            s,
            as_json,
            lambda: out.print(
                f"{s.id} {s.status}"
                + (f": {s.connection_id}" if s.connection_id else "")
                + (f" [{s.error_code}] {s.error_message}" if s.error_code else ""),
                markup=False,
            ),
        )

"""The one-time sign-in link for the web pages: a credential, so it goes to a person only.

``gatekey serve`` prints one when its standard error is a terminal, and otherwise (a service
manager, a container, anything that keeps its output as a log) says how to get one instead.
``gatekey signin-link`` prints a fresh one on demand. Neither ever passes it through
``logging``. Each new link makes the project's older unused links stop working; web sessions
already signed in and API keys are untouched.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from gatekey.cli.app import ProjectOpt, opened
from gatekey.runtime import Runtime

commands = typer.Typer()


def signin_url(runtime: Runtime, project_id: str) -> str:
    """Mint a link for the project's admin (older unused ones stop working)."""
    token = runtime.service.system.create_signin_link(project_id)
    return f"{runtime.settings.origin}/signin/{token}"


def announce_link(runtime: Runtime, project_id: str) -> None:
    """At ``serve``: the link on a terminal; where output may be a log, how to get one."""
    if sys.stderr.isatty():
        typer.echo(f"Sign in (one-time link): {signin_url(runtime, project_id)}", err=True)
    else:
        typer.echo(
            "Sign in: run 'gatekey signin-link' for a one-time link (not printed here: "
            "this output is not a terminal and may be kept as a log)",
            err=True,
        )


@commands.command("signin-link")
def signin_link(
    project: ProjectOpt = "default",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print the link only")] = False,
) -> None:
    """Print a fresh one-time link that signs its opener in to the web pages as admin."""
    with opened() as rt:
        found = rt.service.system.find_project(project)
        url = signin_url(rt, found.id)
        typer.echo(url)
        if not quiet:
            typer.echo(
                f"One-time link for project {found.name}, valid 24 hours; older unused links of "
                "the project no longer work.",
                err=True,
            )

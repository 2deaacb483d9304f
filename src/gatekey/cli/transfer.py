"""``gatekey connections export`` and ``import``: a project's connections as a JSON document,
secrets sealed with a passphrase unless ``--plaintext``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from gatekey import errors
from gatekey.cli.app import JsonOpt, ProjectOpt, emit, fail, operating, out

commands = typer.Typer()
"""Added to ``gatekey connections`` (``cli.connections``)."""


@commands.command("export")
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
    with operating(project) as op:
        document = op.service.transfer.export_connections(
            op.actor, passphrase=passphrase, plaintext=plaintext
        )
        file.touch(mode=0o600)
        file.write_text(json.dumps(document, indent=2), "utf-8")
        out.print(
            f"exported {len(document['connections'])} connection(s) to {file}"
            + (" (secrets in PLAINTEXT)" if plaintext and passphrase is None else ""),
            markup=False,
        )


@commands.command("import")
def connections_import(
    file: Annotated[Path, typer.Option("--file", "-f", help="a Gatekey export")],
    passphrase_env: Annotated[str | None, typer.Option()] = None,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """Import connections (OAuth2 entries keep their tokens: nobody re-authorizes)."""
    try:
        document = json.loads(file.read_text("utf-8"))
    except (OSError, ValueError) as exc:  # before opening Gatekey: said here, one line
        raise fail(errors.InvalidInput(f"cannot read {file}: {exc}")) from None
    passphrase = None
    if isinstance(document, dict) and document.get("encryption"):
        passphrase = (
            os.environ.get(passphrase_env, "")
            if passphrase_env
            else typer.prompt("Passphrase of the export", hide_input=True, err=True)
        )
    with operating(project) as op:
        result = op.service.transfer.import_connections(op.actor, document, passphrase=passphrase)
        emit(
            result,
            as_json,
            lambda: out.print(
                f"imported {len(result.created)}, skipped {len(result.skipped)}"
                + "".join(f"\n  {s['name']}: [{s['code']}] {s['message']}" for s in result.skipped),
                markup=False,
            ),
        )

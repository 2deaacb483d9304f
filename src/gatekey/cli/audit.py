"""``gatekey audit``: list the audit trail, and verify its hash chains."""

from __future__ import annotations

from typing import Annotated

import typer

from gatekey.cli.app import (
    JsonOpt,
    ProjectOpt,
    actor,
    emit,
    err,
    group,
    opened,
    operating,
    out,
    table,
    when,
)
from gatekey.service import Actor

commands = group(
    "The audit trail: who did what, hash-chained.",
    "gatekey audit list --object CONNECTION_ID",
)


@commands.command("list")
def audit_list(
    object_id: Annotated[
        str | None, typer.Option("--object", help="a connection, app, flow or key id", metavar="ID")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """The newest audit entries of a project (never a secret)."""
    with operating(project) as op:
        found = op.service.audit.events(op.actor, object_id=object_id, limit=limit)
        emit(
            found,
            as_json,
            lambda: table(
                "Audit",
                ["Time", "Actor", "Action", "Object", "Outcome"],
                [(when(e.at), e.actor, e.action, e.object_id, e.outcome) for e in found],
            ),
        )


@commands.command("verify")
def audit_verify(
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="one project; every one if left out")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute the hash chains; exit 9 if an entry was edited, removed or inserted."""
    with opened() as rt:
        if project is None:
            result = rt.service.audit.verify(Actor.operator(""), every_project=True)
        else:
            result = rt.service.audit.verify(actor(rt, project))
        if as_json:
            emit(result, True, lambda: None)
        elif result.ok:
            out.print(f"ok: {result.entries} entries in {result.chains} chain(s), all intact")
        else:
            for b in result.breaks:
                where = f"entry {b.entry_id} " if b.entry_id is not None else ""
                chain = b.chain or "(no project)"
                err.print(f"chain {chain}: {where}#{b.seq}: {b.problem}", markup=False)
            err.print(
                f"error [audit_chain_broken]: {len(result.breaks)} break(s) in "
                f"{result.entries} entries",
                markup=False,
            )
        if not result.ok:
            raise typer.Exit(9)

"""``gatekey api-keys``: a project's API keys (their tokens are shown once, at creation)."""

from __future__ import annotations

from typing import Annotated

import typer

from gatekey.cli.app import JsonOpt, ProjectOpt, emit, group, operating, out, table, when
from gatekey.domain.connection import Role

commands = group(
    "API keys of a project.",
    'gatekey api-keys create --role runtime --name "n8n worker"',
)


@commands.command("create")
def api_keys_create(
    project: ProjectOpt = "default",
    role: Annotated[
        Role, typer.Option(help="admin manages; runtime resolves credentials")
    ] = Role.RUNTIME,
    name: Annotated[str, typer.Option(help="what the key is for")] = "cli",
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; the token is printed once."""
    with operating(project) as op:
        key = op.service.access.create_key(op.actor, name=name, role=role.value)
        emit(
            key,
            as_json,
            lambda: out.print(
                f"created {key.role.value} key {key.id}; the token is shown only now:\n{key.token}",
                markup=False,
            ),
        )


@commands.command("list")
def api_keys_list(project: ProjectOpt = "default", as_json: JsonOpt = False) -> None:
    """List API keys (never their tokens)."""
    with operating(project) as op:
        found = op.service.access.list_keys(op.actor)
        emit(
            found,
            as_json,
            lambda: table(
                "API keys",
                ["ID", "Name", "Role", "Ends with", "Created", "Revoked"],
                [
                    (k.id, k.name, k.role.value, k.hint, when(k.created_at), when(k.revoked_at))
                    for k in found
                ],
            ),
        )


@commands.command("revoke")
def api_keys_revoke(key_id: str, project: ProjectOpt = "default") -> None:
    """Revoke an API key at once."""
    with operating(project) as op:
        op.service.access.revoke_key(op.actor, key_id)
        out.print(f"revoked {key_id}")

"""``gatekey apps``: the catalog, and a project's own app definitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from gatekey import errors
from gatekey.cli.app import JsonOpt, ProjectOpt, emit, fail, group, operating, out, table
from gatekey.cli.fields import describe

commands = group(
    "The app catalog.",
    "gatekey apps show zendesk  (which --field and --config to pass)",
)


@commands.command("list")
def apps_list(
    search: Annotated[str | None, typer.Option("--search", "-s")] = None,
    category: Annotated[
        str | None, typer.Option("--category", help="only apps in it (see 'apps categories')")
    ] = None,
    auth_kind: Annotated[
        str | None, typer.Option("--auth-kind", help="only apps offering it (oauth2, api_key...)")
    ] = None,
    project: ProjectOpt = "default",
    as_json: JsonOpt = False,
) -> None:
    """List the apps Gatekey can connect to: the catalog and the project's own apps."""
    with operating(project) as op:
        found = op.service.apps.list(op.actor, search, category=category, auth_kind=auth_kind)
        emit(
            found,
            as_json,
            lambda: table(
                "Apps",
                ["Key", "Name", "Auth", "Source"],
                [(a.key, a.name, ", ".join(a.auth_kinds), a.source) for a in found],
            ),
        )


@commands.command("categories")
def apps_categories(project: ProjectOpt = "default", as_json: JsonOpt = False) -> None:
    """List the categories apps are filed under, with how many apps each."""
    with operating(project) as op:
        found = op.service.apps.categories(op.actor)
        emit(
            found,
            as_json,
            lambda: table(
                "Categories", ["Category", "Apps"], [(c.category, c.count) for c in found]
            ),
        )


@commands.command("show")
def apps_show(key: str, project: ProjectOpt = "default", as_json: JsonOpt = False) -> None:
    """Show how to connect an app: the command, each --field and --config it takes.

    --json prints the whole definition (fields, how they are applied, the test request).
    """
    from gatekey.catalog.schema import public_view

    with operating(project) as op:
        found = op.service.apps.get(op.actor, key)
        if as_json:
            out.print_json(json.dumps(public_view(found)))
        else:
            describe(found, out, op.service.authorizations.callback_url)


def _definition_file(path: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise fail(errors.InvalidAppDefinition(f"{path}: cannot read it: {exc}")) from None


DefinitionFile = Annotated[
    Path, typer.Argument(help="app definition, YAML or JSON, in the catalog's schema")
]


@commands.command("add")
def apps_add(file: DefinitionFile, project: ProjectOpt = "default") -> None:
    """Add an app to a project from a definition file (validated like the catalog's own)."""
    definition = _definition_file(file)
    with operating(project) as op:
        added = op.service.apps.add(op.actor, definition)
        out.print(f"added {added.key} ({added.name}) to project {project}")


@commands.command("replace")
def apps_replace(key: str, file: DefinitionFile, project: ProjectOpt = "default") -> None:
    """Replace one of a project's apps with a new definition (same key)."""
    definition = _definition_file(file)
    with operating(project) as op:
        changed = op.service.apps.replace(op.actor, key, definition)
        out.print(f"replaced {changed.key} ({changed.name})")


@commands.command("delete")
def apps_delete(key: str, project: ProjectOpt = "default") -> None:
    """Delete one of a project's apps; refused while connections or flows use it."""
    with operating(project) as op:
        op.service.apps.delete(op.actor, key)
        out.print(f"deleted {key}")

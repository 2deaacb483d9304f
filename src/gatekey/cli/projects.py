"""``gatekey projects``: the scope of keys and connections."""

from __future__ import annotations

from gatekey.cli.app import JsonOpt, emit, group, opened, out, table, when

commands = group(
    "Projects: the scope of keys and connections.",
    "gatekey projects create staging",
)


@commands.command("create")
def projects_create(name: str, as_json: JsonOpt = False) -> None:
    """Create a project."""
    with opened() as rt:
        project = rt.service.system.create_project(name)
        emit(project, as_json, lambda: out.print(f"created project {project.name} ({project.id})"))


@commands.command("list")
def projects_list(as_json: JsonOpt = False) -> None:
    """List projects."""
    with opened() as rt:
        found = rt.service.system.list_projects()
        emit(
            found,
            as_json,
            lambda: table(
                "Projects",
                ["ID", "Name", "Created"],
                [(p.id, p.name, when(p.created_at)) for p in found],
            ),
        )

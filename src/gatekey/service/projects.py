"""Projects: create, list, find, and the ``default`` project of a first start. Operators only:
no API key can create or list projects (``service.system``)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from gatekey import ids
from gatekey.domain.connection import clean_name
from gatekey.errors import DuplicateName, NotFound
from gatekey.models import CreatedApiKey, Project
from gatekey.service.access import Access
from gatekey.service.actor import Actor
from gatekey.service.context import Context
from gatekey.store import projects as project_rows
from gatekey.store.rows import ProjectRow


def _project_of(row: ProjectRow) -> Project:
    return Project(id=row.id, name=row.name, created_at=row.created_at)


class Projects:
    def __init__(self, ctx: Context, access: Access) -> None:
        self.ctx = ctx
        self.access = access

    def create(self, name: str) -> Project:
        """Create a project (operators only: no API key can create projects)."""
        display = clean_name(name, what="project name", limit=100)
        project = Project(id=ids.new_id("proj"), name=display, created_at=self.ctx.now())
        try:
            with self.ctx.db.write() as conn:
                if project_rows.project_by_name(conn, display) is not None:
                    raise DuplicateName(f"a project named {display!r} already exists")
                project_rows.insert_project(conn, project.model_dump())
        except IntegrityError:
            raise DuplicateName(f"a project named {display!r} already exists") from None
        return project

    def all(self) -> list[Project]:
        with self.ctx.db.read() as conn:
            return [_project_of(r) for r in project_rows.all_projects(conn)]

    def find(self, name_or_id: str) -> Project:
        with self.ctx.db.read() as conn:
            row = project_rows.project_by_id(conn, name_or_id) or project_rows.project_by_name(
                conn, name_or_id
            )
        if row is None:
            raise NotFound(f"project {name_or_id!r} not found")
        return _project_of(row)

    def bootstrap(self) -> tuple[Project, CreatedApiKey | None]:
        """Ensure the ``default`` project; on first start, return its one-time admin key."""
        with self.ctx.db.read() as conn:
            row = project_rows.project_by_name(conn, "default")
        if row is not None:
            return _project_of(row), None
        try:
            project = self.create("default")
        except DuplicateName:
            return self.find("default"), None
        key = self.access.create_key(Actor.operator(project.id), name="initial admin", role="admin")
        return project, key

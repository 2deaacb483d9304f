"""Where the service finds apps: the shared catalog, then the project's own apps."""

from __future__ import annotations

import re
from typing import Any, Literal

from sqlalchemy import Connection as DbConnection

from gatekey.catalog.loader import Catalog, app_from_data
from gatekey.catalog.schema import KEY_PATTERN, App
from gatekey.errors import UnknownApp
from gatekey.store import apps as app_rows
from gatekey.store.database import Database

_KEY = re.compile(KEY_PATTERN)

Source = Literal["builtin", "directory", "project"]


class AppRegistry:
    """Find a project's apps: the shared catalog first, then the apps the project added.

    A project app is read from its row on every lookup (one primary-key read, and only for keys
    the shared catalog lacks), so a change made through one replica holds on every replica at
    once; parsed definitions are cached by (project, key, version).
    """

    def __init__(self, db: Database, catalog: Catalog) -> None:
        self.db = db
        self.catalog = catalog
        self._parsed: dict[tuple[str, str], tuple[int, App]] = {}

    def find(self, project_id: str, key: str, conn: DbConnection | None = None) -> App | None:
        app = self.catalog.find(key)
        if app is not None or not project_id or not _KEY.fullmatch(key):
            return app
        if conn is None:
            with self.db.read() as own:
                row = app_rows.get(own, project_id, key)
        else:
            row = app_rows.get(conn, project_id, key)
        return None if row is None else self._parse(project_id, key, row.version, row.definition)

    def get(self, project_id: str, key: str, conn: DbConnection | None = None) -> App:
        app = self.find(project_id, key, conn)
        if app is None:
            raise UnknownApp(f"no app with key {key!r} in the catalog", app=key)
        return app

    def all(self, project_id: str) -> list[App]:
        """The shared catalog and the project's apps, by name."""
        found = list(self.catalog)
        if project_id:
            with self.db.read() as conn:
                rows = app_rows.all_of(conn, project_id)
            found.extend(
                self._parse(project_id, r.key, r.version, r.definition)
                for r in rows
                if r.key not in self.catalog
            )
        return sorted(found, key=lambda a: a.name.lower())

    def shadowed(self) -> list[tuple[str, str]]:
        """Project apps hidden because the shared catalog now has their key: (project, key)."""
        with self.db.read() as conn:
            found = app_rows.keys_among(conn, [a.key for a in self.catalog])
        return [(r.project_id, r.key) for r in found]

    def source(self, app: App) -> Source:
        if app.key not in self.catalog:
            return "project"
        return "builtin" if app.builtin else "directory"

    def _parse(self, project_id: str, key: str, version: int, definition: Any) -> App:
        cached = self._parsed.get((project_id, key))
        if cached is not None and cached[0] == version:
            return cached[1]
        app = app_from_data({**definition, "builtin": False}, f"app {key}")
        self._parsed[(project_id, key)] = (version, app)
        return app

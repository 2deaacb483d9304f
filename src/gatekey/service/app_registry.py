"""Where the service finds apps: the shared catalog, then the project's own apps.

A project app is stored as the definition that passed the schema of its day. When a later
Gatekey refuses it (patterns RE2 cannot run, CR or LF in header text), that one app is
unusable: listings skip it (``listing`` says which and why), ``get`` and every connection
operation on it fail with ``invalid_app_definition`` naming the fields to fix, and ``find``
answers None, so the project's other apps, its pages and the refresh sweep keep working. Each
such (project, key, version) is logged once, as a warning without the definition's content.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection as DbConnection

from gatekey.catalog.loader import Catalog, app_from_data
from gatekey.catalog.schema import KEY_PATTERN, App
from gatekey.errors import Hint, InvalidAppDefinition, UnknownApp
from gatekey.store import apps as app_rows
from gatekey.store.database import Database

log = logging.getLogger(__name__)

_KEY = re.compile(KEY_PATTERN)

Source = Literal["builtin", "directory", "project"]


@dataclass(frozen=True)
class Refused:
    """A stored project app the schema now refuses: its key, and the schema's errors."""

    key: str
    errors: list[dict[str, str]]

    @property
    def message(self) -> str:
        first = self.errors[0] if self.errors else {"field": "(root)", "message": "refused"}
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        return (
            f"app {self.key!r} was stored before Gatekey checked it as it does now and cannot "
            f"be used: {first['field']}: {first['message']}{more}; replace its definition"
        )

    def error(self) -> InvalidAppDefinition:
        return InvalidAppDefinition(
            self.message,
            app=self.key,
            errors=self.errors,
            hint=Hint("replace_app", {"key": self.key}),
        )


class AppRegistry:
    """Find a project's apps: the shared catalog first, then the apps the project added.

    A project app is read from its row on every lookup (one primary-key read, and only for keys
    the shared catalog lacks), so a change made through one replica holds on every replica at
    once; parsed definitions (and refusals) are cached by (project, key, version). ``at``
    skips the read when the caller already knows the row's version (a credential resolution
    reads it with the connection's stamp).
    """

    def __init__(self, db: Database, catalog: Catalog) -> None:
        self.db = db
        self.catalog = catalog
        self._parsed: dict[tuple[str, str], tuple[int, App | Refused]] = {}
        self._lock = threading.Lock()

    def find(self, project_id: str, key: str, conn: DbConnection | None = None) -> App | None:
        """Return the app, or None when there is none or its stored definition is refused."""
        found = self._lookup(project_id, key, conn)
        return found if isinstance(found, App) else None

    def get(self, project_id: str, key: str, conn: DbConnection | None = None) -> App:
        found = self._lookup(project_id, key, conn)
        if found is None:
            raise UnknownApp(f"no app with key {key!r} in the catalog", app=key)
        if isinstance(found, Refused):
            raise found.error()
        return found

    def at(self, project_id: str, key: str, version: int | None) -> App:
        """``get``, given the version of the project's app row of that key (None: no row):
        the parsed definition of that version when it is cached, without reading the row."""
        app = self.catalog.find(key)
        if app is not None:
            return app
        cached = self._parsed.get((project_id, key)) if version is not None else None
        if cached is not None and cached[0] == version and isinstance(cached[1], App):
            return cached[1]
        return self.get(project_id, key)

    def all(self, project_id: str) -> list[App]:
        """The shared catalog and the project's usable apps, by name."""
        return self.listing(project_id)[0]

    def listing(self, project_id: str) -> tuple[list[App], list[Refused]]:
        """The usable apps (as ``all``), and the project's apps the schema now refuses, by key."""
        found = list(self.catalog)
        refused = []
        for app in self._project_apps(project_id):
            if isinstance(app, App):
                found.append(app)
            else:
                refused.append(app)
        return sorted(found, key=lambda a: a.name.lower()), refused

    def shadowed(self) -> list[tuple[str, str]]:
        """Project apps hidden because the shared catalog now has their key: (project, key)."""
        with self.db.read() as conn:
            found = app_rows.keys_among(conn, [a.key for a in self.catalog])
        return [(r.project_id, r.key) for r in found]

    def source(self, app: App) -> Source:
        if app.key not in self.catalog:
            return "project"
        return "builtin" if app.builtin else "directory"

    def _lookup(self, project_id: str, key: str, conn: DbConnection | None) -> App | Refused | None:
        app = self.catalog.find(key)
        if app is not None or not project_id or not _KEY.fullmatch(key):
            return app
        if conn is None:
            with self.db.read() as own:
                row = app_rows.get(own, project_id, key)
        else:
            row = app_rows.get(conn, project_id, key)
        return None if row is None else self._parse(project_id, key, row.version, row.definition)

    def _project_apps(self, project_id: str) -> list[App | Refused]:
        if not project_id:
            return []
        with self.db.read() as conn:
            rows = app_rows.all_of(conn, project_id)
        return [
            self._parse(project_id, r.key, r.version, r.definition)
            for r in rows
            if r.key not in self.catalog
        ]

    def _parse(self, project_id: str, key: str, version: int, definition: Any) -> App | Refused:
        cached = self._parsed.get((project_id, key))
        if cached is not None and cached[0] == version:
            return cached[1]
        parsed: App | Refused
        try:
            if not isinstance(definition, dict):
                raise InvalidAppDefinition("the stored definition is not a JSON object")
            parsed = app_from_data({**definition, "builtin": False}, f"app {key}")
        except InvalidAppDefinition as exc:
            errors = exc.details.get("errors") or [{"field": "(root)", "message": exc.message}]
            parsed = Refused(key, list(errors))
        with self._lock:
            before = self._parsed.get((project_id, key))
            self._parsed[(project_id, key)] = (version, parsed)
        if isinstance(parsed, Refused) and (before is None or before[0] != version):
            log.warning(
                "project %s: app %r (version %d) is refused by the current app schema and "
                "cannot be used until its definition is replaced (%d problem(s); the app's "
                "listing says which)",
                project_id,
                key,
                version,
                len(parsed.errors),
            )
        return parsed

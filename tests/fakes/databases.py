"""Databases for the tests: migrated once per session, then copied for each test.

Migrating from empty costs about a second a test (Alembic runs nine revisions); a copy of a
migrated template costs a file copy on SQLite and ``CREATE DATABASE ... TEMPLATE`` on
PostgreSQL (about a tenth of a second, and a tenth again to drop it), and gives each test a
database no other test has touched. ``tests/store/test_database.py`` still migrates from empty
on each backend (the ``empty_database_url`` fixture).
"""

from __future__ import annotations

import os
import uuid
from itertools import count
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from gatekey.store.database import Database


def migrated_sqlite(path: Path) -> Path:
    """Create a SQLite database at ``path`` with the newest schema, in one file (no WAL left)."""
    db = Database(f"sqlite:///{path}")
    db.migrate()
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


def sqlite_copy(template: Path, target: Path) -> str:
    """Copy ``template`` to ``target`` (0600, as Gatekey makes its file); return its URL."""
    with (
        template.open("rb") as source,
        open(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as copy,
    ):
        copy.write(source.read())
    return f"sqlite:///{target}"


class PostgresDatabases:
    """Databases of this test process on the server a URL names; each dropped when done.

    Names carry the process id and a random part, so several test runs share one server.
    """

    def __init__(self, url: str) -> None:
        self._url = make_url(url)
        self._prefix = f"{self._url.database}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self._numbers = count(1)
        self._admin = create_engine(
            self._url.set(database="postgres"), isolation_level="AUTOCOMMIT"
        )

    def create(self, *, template: str | None = None) -> str:
        """Create an empty database, or a copy of ``template`` (a URL); return its URL."""
        name = f"{self._prefix}_{next(self._numbers)}"
        copy_of = f' TEMPLATE "{make_url(template).database}"' if template else ""
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy_of}'))
        return self._url.set(database=name).render_as_string(hide_password=False)

    def migrated(self) -> str:
        """Create a database with the newest schema and no connection left open (a template)."""
        url = self.create()
        db = Database(url)
        db.migrate()
        db.dispose()
        return url

    def drop(self, url: str) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))

    def close(self) -> None:
        self._admin.dispose()

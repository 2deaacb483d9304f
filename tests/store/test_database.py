from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from gatekey.store.database import Database, alembic_config
from gatekey.store.tables import metadata


def test_migrations_create_exactly_the_tables(database_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    db = Database(database_url)
    db.migrate()
    db.migrate()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    db.dispose()


def test_sqlite_runs_in_wal_with_full_sync(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()

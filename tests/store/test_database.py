from __future__ import annotations

import ast
from datetime import UTC, datetime
from importlib import resources

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from gatekey.errors import DatabaseUnavailable
from gatekey.runtime import open_runtime
from gatekey.service import Actor
from gatekey.settings import Settings
from gatekey.store.database import Database, alembic_config, ride_out
from gatekey.store.secret_reader import SecretReader
from gatekey.store.tables import connections, metadata
from tests.fakes.providers import FakeProviders, sendgrid_connection
from tests.fakes.servers import free_port


def test_migrations_create_exactly_the_tables(empty_database_url: str) -> None:
    """From an empty database (every other test copies a migrated one), twice over."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    db = Database(empty_database_url)
    with db.engine.connect() as conn:
        assert not inspect(conn).get_table_names(), "starts from nothing"
    db.migrate()
    db.migrate()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    db.dispose()


def test_no_migration_imports_live_code() -> None:
    """An old revision does the same to an old database whatever the code becomes later."""
    versions = resources.files("gatekey.store") / "migrations" / "versions"
    imported = {
        (entry.name, name)
        for entry in versions.iterdir()
        if entry.name.endswith(".py")
        for node in ast.walk(ast.parse(entry.read_text("utf-8")))
        for name in _modules(node)
        if name.split(".")[0] == "gatekey"
    }
    assert imported == set()


def _modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    return []


def test_sqlite_runs_in_wal_with_full_sync(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def test_an_unreachable_database_is_unavailable_not_a_driver_error() -> None:
    db = Database(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing")
    with pytest.raises(DatabaseUnavailable) as caught, db.read() as conn:
        conn.execute(text("SELECT 1"))
    assert caught.value.code == "database_unavailable" and caught.value.retry_after == 1
    assert "127.0.0.1" not in caught.value.message, "no host or port in the message"
    with pytest.raises(DatabaseUnavailable), db.write() as conn:
        conn.execute(text("SELECT 1"))
    reader = SecretReader(db)
    for read in (reader.stamp, reader.read, reader.whole):
        with pytest.raises(DatabaseUnavailable):
            read("proj_x", "conn_x")
    db.dispose()


def test_a_faulty_statement_is_not_an_outage(database_url: str) -> None:
    db = Database(database_url)
    with pytest.raises(DBAPIError) as caught, db.read() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert not isinstance(caught.value, DatabaseUnavailable)
    db.dispose()


def test_ride_out_retries_an_outage_until_the_work_succeeds_or_the_budget_is_spent() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise DatabaseUnavailable("down", retry_after=1)
        return "done"

    assert ride_out(flaky, budget=30, what="testing") == "done" and len(calls) == 3

    def down() -> str:
        raise DatabaseUnavailable("down", retry_after=1)

    with pytest.raises(DatabaseUnavailable):
        ride_out(down, budget=0.2, what="testing")

    def broken() -> str:
        calls.append(1)
        raise ValueError("not an outage")

    calls.clear()
    with pytest.raises(ValueError, match="not an outage"):
        ride_out(broken, budget=30, what="testing")
    assert len(calls) == 1, "only an outage is retried"


def test_the_verified_at_migration_counts_only_token_sets_as_verified(
    settings: Settings, providers: FakeProviders
) -> None:
    """Before 0010 nobody knew whether a key had been checked; a token set had been issued."""
    runtime = open_runtime(settings, transport=providers.transport(), migrate=False)
    project, _ = runtime.service.system.bootstrap()
    actor = Actor.operator(project.id)
    key = sendgrid_connection(runtime.service, actor, name="Key")
    grant = sendgrid_connection(runtime.service, actor, name="Grant")
    issued = datetime(2026, 2, 1, 8, 30, tzinfo=UTC)
    with runtime.db.write() as conn:
        conn.execute(
            update(connections)
            .where(connections.c.id == grant.id)
            .values(auth_kind="oauth2", last_refreshed_at=issued)
        )
    runtime.close()
    db = Database(settings.database_url)
    config = alembic_config()
    with db.engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0009")
        conn.commit()
    db.migrate()
    with db.read() as conn:
        found = dict(conn.execute(select(connections.c.id, connections.c.verified_at)).all())
    db.dispose()

    assert found == {key.id: None, grant.id: issued}

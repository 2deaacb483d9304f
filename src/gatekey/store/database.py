"""Engines and transactions for SQLite (embedded) and PostgreSQL (service), and migrations.

SQLite runs in WAL mode with ``synchronous=FULL``; write transactions start with
``BEGIN IMMEDIATE`` so that two writers queue on the busy timeout instead of failing when a
read lock would have to be upgraded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text

_WRITE = "gatekey_write"


class Database:
    """One engine plus ``read()`` and ``write()`` transactions."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine_options.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        else:
            engine_options.setdefault("pool_pre_ping", True)
            engine_options.setdefault("pool_size", 10)
        self.engine: Engine = create_engine(self.url, **engine_options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn

    def migrate(self) -> None:
        """Bring the schema to the newest revision (first start creates it)."""
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn.execute(text("SELECT pg_advisory_lock(7247001)"))
                conn.commit()
            try:
                config = alembic_config()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                conn.commit()
            finally:
                if not self.is_sqlite:
                    conn.execute(text("SELECT pg_advisory_unlock(7247001)"))
                    conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("gatekey.store") / "migrations"))
    return config


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

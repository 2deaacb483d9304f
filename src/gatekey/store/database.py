"""Engines and transactions for SQLite (embedded) and PostgreSQL (service), and migrations.

SQLite runs in WAL mode with ``synchronous=FULL``; write transactions start with
``BEGIN IMMEDIATE`` so that two writers queue on the busy timeout instead of failing when a
read lock would have to be upgraded.

A database that cannot be reached (stopped, restarting, out of connections) surfaces as
``DatabaseUnavailable`` from ``read()`` and ``write()``, never as a driver error; pooled
PostgreSQL connections are pinged on checkout, so the first transaction after a restart gets
a fresh one. ``ride_out`` retries a piece of work across such an outage, for a bounded time.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy import exc as sa_exc
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from gatekey.errors import DatabaseUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
_WRITE = "gatekey_write"
#: Seconds a client is told to wait before trying again.
RETRY_AFTER = 1
#: SQLSTATE classes and codes that mean "cannot be reached now": connection exceptions (08),
#: insufficient resources such as too many connections (53), and the server shutting down,
#: crashing or starting up (57P01-57P03).
_UNREACHABLE_STATES = ("08", "53", "57P")
_SQLITE_BUSY = ("database is locked", "database table is locked", "unable to open database")


def unavailable(exc: BaseException) -> bool:
    """Tell whether ``exc`` (SQLAlchemy's or the driver's own) says that the database cannot
    be reached right now, as opposed to a fault of the statement or the data."""
    if isinstance(exc, sa_exc.TimeoutError):  # the pool had no connection to hand out
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if exc.orig is None:
            return False
        exc = exc.orig
    if isinstance(exc, sqlite3.OperationalError):
        return str(exc).startswith(_SQLITE_BUSY)
    import psycopg

    if isinstance(exc, psycopg.InterfaceError):  # the connection is closed
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        return state is None or state.startswith(_UNREACHABLE_STATES)
    return False


def outage() -> DatabaseUnavailable:
    """The error an outage is reported as; its message names no host, user or statement."""
    return DatabaseUnavailable(
        "the database is unavailable; try again in a moment", retry_after=RETRY_AFTER
    )


@contextmanager
def _reachable() -> Iterator[None]:
    try:
        yield
    except (sa_exc.DBAPIError, sa_exc.TimeoutError) as exc:
        if unavailable(exc):
            raise outage() from exc
        raise


def ride_out(work: Callable[[], T], *, budget: float, what: str) -> T:
    """Run ``work``, again while it fails with ``DatabaseUnavailable``, for up to ``budget``
    seconds; then raise the last failure.

    The waits double from 50 ms to half a second (plus up to 50 ms of jitter), so work that
    rides out a restart finishes within about half a second of the database's return.
    ``what`` (no secret in it) names the work in the one warning logged when the first
    attempt fails.
    """

    def note(state: RetryCallState) -> None:
        if state.attempt_number == 1:
            log.warning(
                "the database is unavailable while %s; retrying for up to %.0f s", what, budget
            )

    retrying = Retrying(
        retry=retry_if_exception_type(DatabaseUnavailable),
        stop=stop_after_delay(budget),
        wait=wait_exponential(multiplier=0.05, max=0.5) + wait_random(0, 0.05),
        before_sleep=note,
        reraise=True,
    )
    return retrying(work)


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
            engine_options.setdefault("connect_args", {"connect_timeout": 5})
        self.engine: Engine = create_engine(self.url, **engine_options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with _reachable(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with _reachable(), self.engine.connect() as conn:
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

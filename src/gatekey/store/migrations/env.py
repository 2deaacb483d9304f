"""Alembic environment: runs on the connection Gatekey hands over (``attributes["connection"]``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from gatekey.store.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("set sqlalchemy.url, or run migrations through 'gatekey migrate'")
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()

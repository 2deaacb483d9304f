"""SQL for projects and their API keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from gatekey.store.tables import api_keys, projects


def insert_project(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(projects.insert().values(**values))


def project_by_name(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(select(projects).where(projects.c.name == name)).first()


def project_by_id(conn: Connection, project_id: str) -> Row[Any] | None:
    return conn.execute(select(projects).where(projects.c.id == project_id)).first()


def all_projects(conn: Connection) -> Sequence[Row[Any]]:
    return conn.execute(select(projects).order_by(projects.c.id)).all()


def insert_key(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(api_keys.insert().values(**values))


def key_by_hash(conn: Connection, token_hash: str) -> Row[Any] | None:
    return conn.execute(select(api_keys).where(api_keys.c.token_hash == token_hash)).first()


def keys_of(conn: Connection, project_id: str) -> Sequence[Row[Any]]:
    query = select(api_keys).where(api_keys.c.project_id == project_id).order_by(api_keys.c.id)
    return conn.execute(query).all()


def revoke_key(conn: Connection, project_id: str, key_id: str, now: datetime) -> bool:
    result = conn.execute(
        update(api_keys)
        .where(
            api_keys.c.id == key_id,
            api_keys.c.project_id == project_id,
            api_keys.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return result.rowcount == 1

"""SQL for projects and their API keys."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from gatekey.store.rows import ApiKeyRow, ProjectRow
from gatekey.store.tables import api_keys, projects


def insert_project(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(projects.insert().values(**values))


def project_by_name(conn: Connection, name: str) -> ProjectRow | None:
    return ProjectRow.first_of(conn.execute(select(projects).where(projects.c.name == name)))


def project_by_id(conn: Connection, project_id: str) -> ProjectRow | None:
    return ProjectRow.first_of(conn.execute(select(projects).where(projects.c.id == project_id)))


def all_projects(conn: Connection) -> list[ProjectRow]:
    return ProjectRow.all_of(conn.execute(select(projects).order_by(projects.c.id)))


def insert_key(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(api_keys.insert().values(**values))


def key_by_hash(conn: Connection, token_hash: str) -> ApiKeyRow | None:
    return ApiKeyRow.first_of(
        conn.execute(select(api_keys).where(api_keys.c.token_hash == token_hash))
    )


def keys_of(conn: Connection, project_id: str) -> list[ApiKeyRow]:
    query = select(api_keys).where(api_keys.c.project_id == project_id).order_by(api_keys.c.id)
    return ApiKeyRow.all_of(conn.execute(query))


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

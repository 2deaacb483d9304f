"""SQL for the apps a project added through the API (``project_apps``)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from gatekey.store.rows import ProjectAppRow
from gatekey.store.tables import connections, flow_refs, flows, oauth_clients, project_apps


def get(conn: Connection, project_id: str, key: str) -> ProjectAppRow | None:
    query = select(project_apps).where(
        project_apps.c.project_id == project_id, project_apps.c.key == key
    )
    return ProjectAppRow.first_of(conn.execute(query))


def all_of(conn: Connection, project_id: str) -> list[ProjectAppRow]:
    query = (
        select(project_apps)
        .where(project_apps.c.project_id == project_id)
        .order_by(project_apps.c.key)
    )
    return ProjectAppRow.all_of(conn.execute(query))


def keys_among(conn: Connection, keys: Sequence[str]) -> list[ProjectAppRow]:
    """Project apps whose key is one of ``keys``, of any project."""
    query = select(project_apps).where(project_apps.c.key.in_(list(keys)))
    return ProjectAppRow.all_of(conn.execute(query))


def first_version() -> int:
    """A new row's version: random, not 1, so that an app deleted and added again under the
    same key never repeats a version some replica cached the old definition under (each
    replace adds one)."""
    return secrets.randbelow(2**30) + 1


def insert(
    conn: Connection, project_id: str, key: str, definition: Mapping[str, Any], now: datetime
) -> None:
    conn.execute(
        project_apps.insert().values(
            project_id=project_id,
            key=key,
            definition=dict(definition),
            version=first_version(),
            created_at=now,
            updated_at=now,
        )
    )


def replace(
    conn: Connection, project_id: str, key: str, definition: Mapping[str, Any], now: datetime
) -> bool:
    result = conn.execute(
        update(project_apps)
        .where(project_apps.c.project_id == project_id, project_apps.c.key == key)
        .values(definition=dict(definition), version=project_apps.c.version + 1, updated_at=now)
    )
    return result.rowcount == 1


def remove(conn: Connection, project_id: str, key: str) -> bool:
    """Delete the app and the project's OAuth client for it (it serves no other app)."""
    conn.execute(
        delete(oauth_clients).where(
            oauth_clients.c.project_id == project_id, oauth_clients.c.app_key == key
        )
    )
    result = conn.execute(
        delete(project_apps).where(
            project_apps.c.project_id == project_id, project_apps.c.key == key
        )
    )
    return result.rowcount == 1


def auth_kinds_in_use(conn: Connection, project_id: str, key: str) -> dict[str, int]:
    """How many of the project's connections use the app, per auth kind."""
    query = (
        select(connections.c.auth_kind, func.count())
        .where(connections.c.project_id == project_id, connections.c.app_key == key)
        .group_by(connections.c.auth_kind)
    )
    return {str(kind): int(count) for kind, count in conn.execute(query).all()}


def flows_using(conn: Connection, project_id: str, key: str) -> list[str]:
    """Names of the project's flows with a step on the app."""
    query = (
        select(flows.c.name)
        .where(
            flows.c.id.in_(
                select(flow_refs.c.flow_id).where(
                    flow_refs.c.project_id == project_id, flow_refs.c.app_key == key
                )
            )
        )
        .order_by(flows.c.name)
    )
    return list(conn.execute(query).scalars())

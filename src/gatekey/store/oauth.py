"""SQL for OAuth clients and authorization sessions; every query is scoped by project or state."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, delete, func, select, update

from gatekey.store import sealed
from gatekey.store.rows import OAuthClientRow, OAuthSessionRow, SealedOAuthClientRow
from gatekey.store.tables import connections, oauth_clients, oauth_sessions

_CLIENT_PUBLIC = sealed.public_columns(oauth_clients)


def insert_client(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(oauth_clients.insert().values(**values))


def client_by_id(conn: Connection, project_id: str, client_id: str) -> SealedOAuthClientRow | None:
    """Return the client with its sealed secret."""
    query = select(oauth_clients).where(
        oauth_clients.c.id == client_id, oauth_clients.c.project_id == project_id
    )
    return SealedOAuthClientRow.first_of(conn.execute(query))


def client_for_app(conn: Connection, project_id: str, app_key: str) -> OAuthClientRow | None:
    query = select(*_CLIENT_PUBLIC).where(
        oauth_clients.c.project_id == project_id, oauth_clients.c.app_key == app_key
    )
    return OAuthClientRow.first_of(conn.execute(query))


def clients_of(conn: Connection, project_id: str) -> list[tuple[OAuthClientRow, int]]:
    """Return the project's clients (no secrets), by app, with how many connections use each."""
    used = (
        select(func.count())
        .where(connections.c.oauth_client_id == oauth_clients.c.id)
        .scalar_subquery()
    )
    query: Select[Any] = (
        select(*_CLIENT_PUBLIC, used.label("connections"))
        .where(oauth_clients.c.project_id == project_id)
        .order_by(oauth_clients.c.app_key)
    )
    return [(OAuthClientRow.of(r), int(r.connections)) for r in conn.execute(query)]


def update_client(
    conn: Connection, project_id: str, client_id: str, values: Mapping[str, Any]
) -> bool:
    result = conn.execute(
        update(oauth_clients)
        .where(oauth_clients.c.id == client_id, oauth_clients.c.project_id == project_id)
        .values(**values)
    )
    return result.rowcount == 1


def delete_client(conn: Connection, project_id: str, client_id: str) -> bool:
    result = conn.execute(
        delete(oauth_clients).where(
            oauth_clients.c.id == client_id, oauth_clients.c.project_id == project_id
        )
    )
    return result.rowcount == 1


def connections_using(conn: Connection, project_id: str, client_id: str) -> int:
    """How many of the project's connections use the client (never another project's)."""
    query = select(func.count()).where(
        connections.c.project_id == project_id, connections.c.oauth_client_id == client_id
    )
    return int(conn.execute(query).scalar_one())


def insert_session(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(oauth_sessions.insert().values(**values))


def session_by_id(conn: Connection, project_id: str, session_id: str) -> OAuthSessionRow | None:
    query = select(oauth_sessions).where(
        oauth_sessions.c.id == session_id, oauth_sessions.c.project_id == project_id
    )
    return OAuthSessionRow.first_of(conn.execute(query))


def session_by_state(conn: Connection, state_hash: str) -> OAuthSessionRow | None:
    query = select(oauth_sessions).where(oauth_sessions.c.state_hash == state_hash)
    return OAuthSessionRow.first_of(conn.execute(query))


def claim_session(conn: Connection, state_hash: str, now: datetime) -> bool:
    """Move a pending, unexpired session to ``exchanging``: one caller ever wins a state."""
    result = conn.execute(
        update(oauth_sessions)
        .where(
            oauth_sessions.c.state_hash == state_hash,
            oauth_sessions.c.status == "pending",
            oauth_sessions.c.expires_at > now,
        )
        .values(status="exchanging")
    )
    return result.rowcount == 1


def finish_session(conn: Connection, session_id: str, values: Mapping[str, Any]) -> None:
    conn.execute(update(oauth_sessions).where(oauth_sessions.c.id == session_id).values(**values))


def purge_sessions(conn: Connection, before: datetime) -> int:
    """Delete sessions that ended or expired before ``before``."""
    result = conn.execute(delete(oauth_sessions).where(oauth_sessions.c.expires_at < before))
    return result.rowcount

"""SQL for web sessions and one-time sign-in links; tokens are only ever stored hashed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, or_, select, update

from gatekey.store.rows import WebSessionRow
from gatekey.store.tables import api_keys, signin_links, web_sessions

LINK_ACTOR = "signin-link"
"""The ``actor`` of a session opened by a one-time link (every other one names its API key)."""


def insert_session(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(web_sessions.insert().values(**values))


def session(conn: Connection, token_hash: str, now: datetime) -> WebSessionRow | None:
    """Return a live session: unexpired, and opened by a one-time link or by an API key that
    is still valid (not revoked, not expired). One primary-key lookup joined to another."""
    key_valid = and_(
        api_keys.c.id.is_not(None),
        api_keys.c.project_id == web_sessions.c.project_id,
        api_keys.c.revoked_at.is_(None),
        or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > now),
    )
    query = (
        select(web_sessions)
        .select_from(web_sessions.outerjoin(api_keys, api_keys.c.id == web_sessions.c.actor))
        .where(
            web_sessions.c.token_hash == token_hash,
            web_sessions.c.expires_at > now,
            or_(web_sessions.c.actor == LINK_ACTOR, key_valid),
        )
    )
    return WebSessionRow.first_of(conn.execute(query))


def end_session(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == token_hash))


def purge(conn: Connection, now: datetime) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))
    conn.execute(delete(signin_links).where(signin_links.c.expires_at <= now))


def supersede_links(conn: Connection, project_id: str) -> None:
    """End the project's unused links (a new one replaces them)."""
    conn.execute(
        delete(signin_links).where(
            signin_links.c.project_id == project_id, signin_links.c.used_at.is_(None)
        )
    )


def insert_link(conn: Connection, values: Mapping[str, Any]) -> None:
    conn.execute(signin_links.insert().values(**values))


def use_link(conn: Connection, token_hash: str, now: datetime) -> str | None:
    """Mark an unused, unexpired link used; return its project, or None. One caller wins."""
    result = conn.execute(
        update(signin_links)
        .where(
            signin_links.c.token_hash == token_hash,
            signin_links.c.used_at.is_(None),
            signin_links.c.expires_at > now,
        )
        .values(used_at=now)
    )
    if result.rowcount != 1:
        return None
    found = conn.execute(
        select(signin_links.c.project_id).where(signin_links.c.token_hash == token_hash)
    ).scalar()
    return str(found) if found is not None else None

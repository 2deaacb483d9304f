"""The typed records of ``store.rows`` hold every column of their table but the sealed ones."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, fields

import pytest

from gatekey.service import Actor, Service
from gatekey.store import connections as rows
from gatekey.store.rows import ConnectionRow, OAuthSessionRow
from gatekey.store.tables import connections, oauth_sessions


def test_a_connection_row_has_every_column_but_the_sealed_ones() -> None:
    columns = {c.name for c in connections.c} - set(rows.SECRET_COLUMNS)
    assert {f.name for f in fields(ConnectionRow)} == columns


def test_an_oauth_session_row_has_every_column() -> None:
    assert {f.name for f in fields(OAuthSessionRow)} == {c.name for c in oauth_sessions.c}


def test_rows_read_are_frozen_records_that_show_their_id_only(
    service: Service, actor: Actor
) -> None:
    made = service.connections.create(
        actor,
        app="sendgrid",
        name="Typed",
        fields={"api_key": "SG.typed.value"},
        metadata={"owner": "ada@example.com"},
        validate=False,
    )
    with service.context.db.read() as conn:
        row = rows.get(conn, actor.project_id, made.id)
        (listed,) = rows.page(
            conn, actor.project_id, status=None, app_key=None, text=None, after=None, limit=5
        )
    assert isinstance(row, ConnectionRow) and listed == row
    assert row.meta == {"owner": "ada@example.com"} and row.version == 1
    assert "ada@example.com" not in repr(row) and made.id in repr(row)
    with pytest.raises(FrozenInstanceError):
        row.status = "inactive"  # type: ignore[misc]

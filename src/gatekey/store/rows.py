"""Typed records of what ``store`` reads, so nothing above it handles a ``Row[Any]``.

One frozen dataclass per table (or per projection of one), built from the driver's row with
``of``; ``tests/store/test_rows.py`` pins each one's fields to its table's columns, so a new
column cannot be forgotten here. Sealed payloads stay out of these records: the secret of a
connection is read by ``store.secret_reader``, an OAuth session's code verifier through
``sealed_of``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Self

from sqlalchemy import Row


class _Record:
    """``of``: a record from a row that has (at least) its fields."""

    __slots__ = ()

    @classmethod
    def of(cls, row: Row[Any]) -> Self:
        values = row._mapping
        return cls(**{f.name: values[f.name] for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ConnectionRow(_Record):
    """A connection as stored, without its sealed secret."""

    id: str
    project_id: str
    app_key: str
    auth_kind: str
    name: str
    name_key: str
    status: str
    status_reason: str | None
    status_message: str | None
    is_default: bool
    account_label: str | None
    scopes: list[str]
    config: dict[str, Any]
    public_fields: dict[str, Any]
    meta: dict[str, Any]
    expires_at: datetime | None
    last_refreshed_at: datetime | None
    last_used_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    oauth_client_id: str | None
    refresh_lease_owner: str | None
    refresh_lease_until: datetime | None
    refresh_failures: int
    refresh_retry_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None

    def __repr__(self) -> str:
        return f"ConnectionRow(id={self.id!r}, status={self.status!r}, version={self.version})"


@dataclass(frozen=True, slots=True)
class OAuthSessionRow(_Record):
    """An authorization session; the sealed code verifier travels along, never shown."""

    id: str
    project_id: str
    app_key: str
    oauth_client_id: str
    connection_id: str | None
    connection_name: str
    is_default: bool | None
    scopes: list[str]
    config: dict[str, Any]
    meta: dict[str, Any]
    state_hash: str
    redirect_uri: str
    status: str
    error_code: str | None
    error_message: str | None
    result_connection_id: str | None
    actor: str
    secret_ciphertext: bytes
    dek_wrapped: bytes
    kek_id: str
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None

    def __repr__(self) -> str:
        return f"OAuthSessionRow(id={self.id!r}, status={self.status!r})"

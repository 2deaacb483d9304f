"""Typed records of what ``store`` reads, so nothing above it handles a ``Row[Any]``.

One frozen dataclass per table (or per projection of one), built from the driver's row with
``of``; ``tests/store/test_rows.py`` pins each one's fields to its table's columns, so a new
column cannot be forgotten here. A record's ``repr`` shows its ids only (``_shown``). Sealed
payloads stay out of the records listed or shown: the secret of a connection is read by
``store.secret_reader``; the sealed columns of an OAuth session, an OAuth client or a row
being rewrapped travel along only to be opened with ``sealed_of``.

Here: connections, OAuth sessions and clients, projects and API keys, web sessions, project
apps, audit entries and the rewrap batches; flows and runs are in ``store.flow_rows``, webhook
endpoints and deliveries in ``store.webhook_rows``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar, Self

from sqlalchemy import Result, Row


class Record:
    """``of``: a record from a row that has (at least) its fields; ``repr``: its ``_shown``."""

    __slots__ = ()
    _shown: ClassVar[tuple[str, ...]] = ("id",)

    @classmethod
    def of(cls, row: Row[Any]) -> Self:
        values = row._mapping
        return cls(**{f.name: values[f.name] for f in fields(cls)})  # type: ignore[arg-type]

    @classmethod
    def first_of(cls, result: Result[Any]) -> Self | None:
        """The record of the result's first row, or None when it has none."""
        row = result.first()
        return None if row is None else cls.of(row)

    @classmethod
    def all_of(cls, result: Result[Any]) -> list[Self]:
        """The records of every row of the result, in its order."""
        return [cls.of(row) for row in result]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown)
        return f"{type(self).__name__}({shown})"


@dataclass(frozen=True, slots=True, repr=False)
class ConnectionRow(Record):
    """A connection as stored, without its sealed secret."""

    _shown = ("id", "status", "version")

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
    verified_at: datetime | None
    keepalive_until: datetime | None
    keepalive_failed_at: datetime | None


@dataclass(frozen=True, slots=True, repr=False)
class OAuthSessionRow(Record):
    """An authorization session; the sealed code verifier travels along, never shown."""

    _shown = ("id", "status")

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
    allow_account_switch: bool


@dataclass(frozen=True, slots=True, repr=False)
class OAuthClientRow(Record):
    """A project's OAuth client for an app, without its sealed secret."""

    _shown = ("id", "app_key")

    id: str
    project_id: str
    app_key: str
    client_id: str
    scopes: list[str] | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, repr=False)
class SealedOAuthClientRow(OAuthClientRow):
    """An OAuth client with its sealed secret, for the requests made with it (never shown)."""

    secret_ciphertext: bytes
    dek_wrapped: bytes
    kek_id: str


@dataclass(frozen=True, slots=True, repr=False)
class SealedRow(Record):
    """The envelope of one row of a sealed table, read to be rewrapped."""

    _shown = ("id", "kek_id")

    id: str
    project_id: str
    secret_ciphertext: bytes
    dek_wrapped: bytes
    kek_id: str


@dataclass(frozen=True, slots=True, repr=False)
class ProjectRow(Record):
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True, repr=False)
class ApiKeyRow(Record):
    """An API key; the token itself is never stored, only its hash."""

    _shown = ("id", "project_id", "role")

    id: str
    project_id: str
    name: str
    role: str
    token_hash: str
    hint: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True, repr=False)
class WebSessionRow(Record):
    """A signed-in browser; its token hash and CSRF token are never shown."""

    _shown = ("project_id", "actor")

    token_hash: str
    project_id: str
    actor: str
    csrf: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True, repr=False)
class ProjectAppRow(Record):
    """An app a project added: its definition as validated when it was stored."""

    _shown = ("project_id", "key", "version")

    project_id: str
    key: str
    definition: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, repr=False)
class AuditEventRow(Record):
    """One audit entry, linked in its project's chain."""

    _shown = ("id", "action", "outcome")

    id: int
    at: datetime
    project_id: str | None
    actor: str
    action: str
    object_type: str
    object_id: str | None
    outcome: str
    detail: dict[str, Any]
    chain: str
    seq: int
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True, repr=False)
class RefreshCandidateRow(Record):
    """What the background refresher needs to tell whether a connection's token falls due."""

    id: str
    project_id: str
    app_key: str
    auth_kind: str
    expires_at: datetime | None
    last_refreshed_at: datetime | None


@dataclass(frozen=True, slots=True, repr=False)
class KeepAliveCandidateRow(Record):
    """What the keep-alive sweep needs to tell whether a connection sits idle too long."""

    id: str
    project_id: str
    app_key: str
    auth_kind: str
    last_used_at: datetime | None
    verified_at: datetime | None
    created_at: datetime

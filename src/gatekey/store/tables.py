"""The tables (SQLAlchemy Core). Alembic migrations in ``migrations/`` create exactly these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Store UTC without a zone (SQLite has none); hand back aware datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


projects = Table(
    "projects",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("hint", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

connections = Table(
    "connections",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.id"), nullable=False),
    Column("app_key", String(64), nullable=False),
    Column("auth_kind", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_key", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", String(40), nullable=True),
    Column("status_message", Text(), nullable=True),
    Column("is_default", Boolean(), nullable=False, server_default=text("false")),
    Column("account_label", String(300), nullable=True),
    Column("scopes", JSON(), nullable=False),
    Column("config", JSON(), nullable=False),
    Column("public_fields", JSON(), nullable=False),
    Column("meta", JSON(), nullable=False),
    Column("secret_ciphertext", LargeBinary(), nullable=False),
    Column("dek_wrapped", LargeBinary(), nullable=False),
    Column("kek_id", String(64), nullable=False, index=True),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("last_refreshed_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Column("version", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # OAuth2: the client the grant belongs to, and the refresh lease and failure record.
    Column("oauth_client_id", String(40), nullable=True),
    Column("refresh_lease_owner", String(40), nullable=True),
    Column("refresh_lease_until", UTCDateTime(), nullable=True),
    Column("refresh_failures", Integer(), nullable=False, server_default=text("0")),
    Column("refresh_retry_at", UTCDateTime(), nullable=True),
    Column("last_error", Text(), nullable=True),
    Column("last_error_at", UTCDateTime(), nullable=True),
    # When the provider last accepted the credentials (a test, a token exchange); None: never
    # since they were saved.
    Column("verified_at", UTCDateTime(), nullable=True),
    # Credentials the provider deactivates when idle: the keep-alive sweep's claim, and when
    # a keep-alive last could not reach the provider (``store.keepalive``).
    Column("keepalive_until", UTCDateTime(), nullable=True),
    Column("keepalive_failed_at", UTCDateTime(), nullable=True),
    Index("uq_connections_project_id_name_key", "project_id", "name_key", unique=True),
    Index(
        "uq_connections_default_per_app",
        "project_id",
        "app_key",
        unique=True,
        sqlite_where=text("is_default"),
        postgresql_where=text("is_default"),
    ),
    Index("ix_connections_project_list", "project_id", "status", "app_key", "id"),
    Index("ix_connections_expires_at", "expires_at"),
)

oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.id"), nullable=False),
    Column("app_key", String(64), nullable=False),
    Column("client_id", String(500), nullable=False),
    Column("scopes", JSON(), nullable=True),
    Column("secret_ciphertext", LargeBinary(), nullable=False),
    Column("dek_wrapped", LargeBinary(), nullable=False),
    Column("kek_id", String(64), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("uq_oauth_clients_project_id_app_key", "project_id", "app_key", unique=True),
)

oauth_sessions = Table(
    "oauth_sessions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.id"), nullable=False, index=True),
    Column("app_key", String(64), nullable=False),
    Column("oauth_client_id", String(40), nullable=False),
    Column("connection_id", String(40), nullable=True),
    Column("connection_name", String(200), nullable=False),
    Column("is_default", Boolean(), nullable=True),
    Column("scopes", JSON(), nullable=False),
    Column("config", JSON(), nullable=False),
    Column("meta", JSON(), nullable=False),
    Column("state_hash", String(64), nullable=False, unique=True),
    Column("redirect_uri", String(500), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error_code", String(40), nullable=True),
    Column("error_message", Text(), nullable=True),
    Column("result_connection_id", String(40), nullable=True),
    Column("actor", String(64), nullable=False),
    Column("secret_ciphertext", LargeBinary(), nullable=False),
    Column("dek_wrapped", LargeBinary(), nullable=False),
    Column("kek_id", String(64), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("completed_at", UTCDateTime(), nullable=True),
    # a reconnect that may come back as another account than the connection's
    Column("allow_account_switch", Boolean(), nullable=False, server_default=text("false")),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.id"), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

signin_links = Table(
    "signin_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.id"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
)

flows = Table(
    "flows",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_key", String(200), nullable=False),
    Column("description", Text(), nullable=False),
    Column("definition", JSON(), nullable=False),
    Column("webhook_hash", String(64), nullable=True, unique=True),
    Column("version", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("uq_flows_project_id_name_key", "project_id", "name_key", unique=True),
)

flow_refs = Table(
    "flow_refs",
    metadata,
    Column("flow_id", String(40), ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", String(40), nullable=False),
    Column("step_id", String(40), primary_key=True),
    Column("app_key", String(64), nullable=False),
    Column("connection_id", String(40), nullable=True),
    Index("ix_flow_refs_connection", "connection_id"),
    Index("ix_flow_refs_app", "project_id", "app_key"),
    Index("ix_flow_refs_flow", "flow_id"),
)
"""One row per step: which connection (or, when null, the app's default) each step uses."""

runs = Table(
    "runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.id"), nullable=False),
    Column("flow_id", String(40), nullable=False),
    Column("flow_version", Integer(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("input", JSON(), nullable=False),
    Column("error_code", String(40), nullable=True),
    Column("error_message", Text(), nullable=True),
    Column("failed_step", String(40), nullable=True),
    Column("failed_connection_id", String(40), nullable=True),
    Column("retry_of", String(40), nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    Index("ix_runs_queue", "status", "created_at"),
    Index("ix_runs_project_flow", "project_id", "flow_id", "id"),
)

run_steps = Table(
    "run_steps",
    metadata,
    Column("run_id", String(40), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("step_id", String(40), primary_key=True),
    Column("position", Integer(), nullable=False),
    Column("connection_id", String(40), nullable=True),
    Column("status", String(16), nullable=False),
    Column("output", JSON(), nullable=True),
    Column("error_code", String(40), nullable=True),
    Column("error_message", Text(), nullable=True),
    Column("duration_ms", Integer(), nullable=True),
    # What a python step printed (stdout and stderr), capped and with the run's secrets masked.
    Column("logs", Text(), nullable=True),
    Index("ix_run_steps_connection", "connection_id"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project_id", String(40), ForeignKey("projects.id"), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    Column("description", String(200), nullable=False),
    Column("events", JSON(), nullable=False),
    Column("secret_ciphertext", LargeBinary(), nullable=False),
    Column("dek_wrapped", LargeBinary(), nullable=False),
    Column("kek_id", String(64), nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
)
"""Where a project wants status events sent; the signing secret is sealed like credentials."""

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column(
        "endpoint_id",
        String(40),
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("project_id", String(40), nullable=False),
    Column("event_id", String(40), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("body", LargeBinary(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("claimed_until", UTCDateTime(), nullable=True),
    Column("last_status", Integer(), nullable=True),
    Column("last_error", String(300), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
)
"""The outbox: one row per (event, endpoint), written in the transaction of the change."""

SEALED_TABLES = (connections, oauth_clients, oauth_sessions, webhook_endpoints)
"""Every table holding an envelope-sealed payload; master-key rotation rewraps them all."""

project_apps = Table(
    "project_apps",
    metadata,
    Column("project_id", String(40), ForeignKey("projects.id"), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("definition", JSON(), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
"""Apps a project added through the API: validated definitions, seen by that project only."""

audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", UTCDateTime(), nullable=False),
    Column("project_id", String(40), nullable=True, index=True),
    Column("actor", String(64), nullable=False),
    Column("action", String(40), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_id", String(64), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("detail", JSON(), nullable=False),
    Column("chain", String(40), nullable=False),
    Column("seq", BigInteger(), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_object", "object_id", "id"),
    Index("uq_audit_events_chain_seq", "chain", "seq", unique=True),
)
"""Hash-chained per project (``chain``: the project id, or ``""``); see ``domain.audit_chain``."""

audit_heads = Table(
    "audit_heads",
    metadata,
    Column("chain", String(40), primary_key=True),
    Column("seq", BigInteger(), nullable=False),
    Column("hash", String(64), nullable=False),
)
"""The newest entry of each audit chain; its row lock orders the writers of that chain."""

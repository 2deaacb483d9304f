"""The public records the service hands out, built from the typed rows of ``store``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from gatekey.domain.connection import Status
from gatekey.errors import SessionExpired
from gatekey.models import (
    AuditEvent,
    AuthorizationSession,
    Connection,
    ConnectionWarning,
    Diagnosis,
)
from gatekey.store.rows import AuditEventRow, ConnectionRow, OAuthSessionRow


def connection_of(
    row: ConnectionRow, flows: int = 0, warnings: Sequence[ConnectionWarning] = ()
) -> Connection:
    return Connection(
        flows=flows,
        id=row.id,
        project_id=row.project_id,
        app=row.app_key,
        auth_kind=row.auth_kind,
        name=row.name,
        status=row.status,
        status_reason=row.status_reason,
        status_message=row.status_message,
        is_default=row.is_default,
        account_label=row.account_label,
        scopes=row.scopes,
        config=row.config,
        fields=row.public_fields,
        metadata=row.meta,
        expires_at=row.expires_at,
        last_refreshed_at=row.last_refreshed_at,
        last_used_at=row.last_used_at,
        oauth_client_id=row.oauth_client_id,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
        verified_at=row.verified_at,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        warnings=list(warnings),
    )


def session_of(
    row: OAuthSessionRow, now: datetime, authorize_url: str | None = None
) -> AuthorizationSession:
    status = row.status
    error_code, error_message = row.error_code, row.error_message
    if status in ("pending", "exchanging"):
        status = "pending"
        if row.expires_at <= now:
            status = "failed"
            error_code = SessionExpired.code
            error_message = "the authorization took longer than allowed; start again"
    return AuthorizationSession(
        id=row.id,
        app=row.app_key,
        status=status,
        authorize_url=authorize_url,
        connection_id=row.result_connection_id or row.connection_id,
        reconnect=row.connection_id is not None,
        allow_account_switch=row.allow_account_switch,
        error_code=error_code,
        error_message=error_message,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


def audit_event_of(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        project_id=row.project_id,
        actor=row.actor,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        outcome=row.outcome,
        detail=row.detail,
    )


def diagnosis_of(connection: Connection, required_scopes: Sequence[str]) -> Diagnosis:
    """Whether ``connection`` can serve a caller needing ``required_scopes``, and why not."""
    missing = [s for s in required_scopes if s not in set(connection.scopes)]
    return Diagnosis(
        connection_id=connection.id,
        ok=connection.status == Status.ACTIVE and not missing,
        status=connection.status,
        status_reason=connection.status_reason,
        status_message=connection.status_message,
        granted_scopes=connection.scopes,
        missing_scopes=missing,
        expires_at=connection.expires_at,
        last_error=connection.last_error,
    )

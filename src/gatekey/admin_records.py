"""The records of a project's administration: projects, API keys, master keys, the audit log,
webhooks and readiness, as the API returns them and both SDKs hand them out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from gatekey.domain.connection import Role


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Project(_Model):
    id: str
    name: str
    created_at: datetime


class ApiKey(_Model):
    id: str
    project_id: str
    name: str
    role: Role
    hint: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class CreatedApiKey(ApiKey):
    """Returned once, at creation: ``token`` is not stored and cannot be shown again."""

    token: str

    def __repr__(self) -> str:
        return f"CreatedApiKey(id={self.id!r}, role={self.role!r})"

    __str__ = __repr__


class MasterKeyInfo(_Model):
    id: str
    primary: bool
    available: bool
    data_keys: int


class RotationProgress(_Model):
    key_id: str
    done: int
    remaining: int


class AuditEvent(_Model):
    id: int
    at: datetime
    project_id: str | None
    actor: str
    action: str
    object_type: str
    object_id: str | None
    outcome: str
    detail: dict[str, Any]


class Webhook(_Model):
    """A project's status-webhook endpoint; its signing secret is shown once, at creation."""

    id: str
    project_id: str
    url: str
    description: str
    events: list[str]
    created_at: datetime
    deliveries: dict[str, int] = {}


class CreatedWebhook(Webhook):
    secret: str


class WebhookDelivery(_Model):
    id: str
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class Readiness(_Model):
    ready: bool
    checks: dict[str, str]


class AuditBreak(_Model):
    """Where an audit chain does not hold (``entry_id`` is null when the head disagrees)."""

    chain: str
    seq: int
    entry_id: int | None
    problem: str


class AuditVerification(_Model):
    ok: bool
    chains: int
    entries: int
    breaks: list[AuditBreak]

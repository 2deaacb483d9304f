"""What every part of the service shares: the actor, the clock, the injected parts."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection as DbConnection

from gatekey.catalog.loader import Catalog
from gatekey.crypto.cache import SecretCache
from gatekey.crypto.vault import Vault
from gatekey.domain import roles
from gatekey.domain.apply import AppliedAuth
from gatekey.domain.connection import Event as ConnectionEvent
from gatekey.domain.roles import AnyRole, Role
from gatekey.errors import (
    GatekeyError,
    PermissionDenied,
    RateLimited,
)
from gatekey.metrics import Metrics
from gatekey.oauth.provider import ProviderClient
from gatekey.probe import Prober
from gatekey.ratelimit import Limiter, Limits, MemoryLimiter
from gatekey.service.app_registry import AppRegistry
from gatekey.store.audit import Event
from gatekey.store.connection_writer import ConnectionWriter
from gatekey.store.database import Database
from gatekey.store.hot import SecretReader
from gatekey.store.webhooks import Outbox
from gatekey.workers.usage_writer import UsageWriter
from gatekey.workflows.registry import StepRegistry
from gatekey.workflows.sandbox import StepSandbox

Clock = Callable[[], datetime]
OPERATOR = "operator"
"""The ``key_id`` of the local operator's actor."""


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is calling: a project, the API key (or ``cli``) acting, and its role."""

    project_id: str
    key_id: str
    role: AnyRole

    @classmethod
    def operator(cls, project_id: str) -> Actor:
        """The local operator (CLI, embedded SDK): admin of the project, allowed everything."""
        return cls(project_id=project_id, key_id=OPERATOR, role=Role.ADMIN)


class ServiceBase:
    """The injected parts, access checks and audit helpers."""

    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        vault: Vault,
        prober: Prober,
        audit: UsageWriter,
        provider: ProviderClient,
        *,
        clock: Clock = utcnow,
        callback_url: str = "http://127.0.0.1:8040/oauth/callback",
        session_ttl: timedelta = timedelta(minutes=10),
        limiter: Limiter | None = None,
        limits: Limits | None = None,
        step_registry: StepRegistry | None = None,
        step_sandbox: StepSandbox | None = None,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.apps = AppRegistry(db, catalog)
        self.vault = vault
        self.prober = prober
        self.audit = audit
        self.provider = provider
        self.clock = clock
        self.callback_url = callback_url
        self.session_ttl = session_ttl
        self.secrets = SecretReader(db)
        self._opened: SecretCache[dict[str, Any]] = SecretCache()
        self._applied: SecretCache[tuple[Any, AppliedAuth]] = SecretCache()
        self.limiter: Limiter = limiter or MemoryLimiter()
        self.limits = limits or Limits()
        self.metrics = Metrics(db)
        self.step_registry = step_registry or StepRegistry.installed()
        self.step_sandbox = step_sandbox or StepSandbox()
        self.outbox = Outbox()
        self.writer = ConnectionWriter(self.outbox)

    def _throttle(self, limit: str, subject: str, what: str) -> None:
        """Count a request against one budget of ``Limits``; raise ``RateLimited`` when spent."""
        rate = self.limits.rate(limit)
        if rate is None:
            return
        wait = self.limiter.hit(f"{limit}:{subject}", rate)
        if wait is not None:
            self.metrics.rate_limited.labels(limit).inc()
            raise RateLimited(
                f"too many {what} (at most {rate.count} a minute); "
                f"try again in {math.ceil(wait)} s",
                retry_after=round(wait, 3),
            )

    def _throttle_actor(self, kind: str, actor: Actor, what: str) -> None:
        """The per-key and per-project budgets of ``kind``; the local operator has none."""
        if actor.key_id == "operator":
            return
        self._throttle(f"{kind}_per_key", actor.key_id, what + " for this API key")
        self._throttle(f"{kind}_per_project", actor.project_id, what + " in this project")

    def _emit_for(self, conn: DbConnection, event_type: str, project_id: str, cid: str) -> None:
        """Emit ``event_type`` about a connection as the transaction sees it now.

        Only for ``service.tokens``' deactivation, which writes the row itself until the
        refresher calls ``ConnectionWriter.set_status`` (which emits the event it decides).
        """
        self.writer.announce(conn, project_id, cid, ConnectionEvent(event_type), self.clock())

    @staticmethod
    def _authorize(actor: Actor, operation: str) -> None:
        """Refuse ``operation`` unless the table in ``domain.roles`` allows it to the actor's
        role; the local operator may do everything."""
        if actor.key_id != OPERATOR and not roles.allowed(actor.role, operation):
            raise PermissionDenied(roles.refusal(actor.role, operation))

    @staticmethod
    def _require_admin(actor: Actor) -> None:
        if actor.role is not Role.ADMIN:
            raise PermissionDenied(
                f"this API key has the {actor.role} role; an admin key is needed"
            )

    def _event(
        self,
        actor: Actor,
        action: str,
        object_type: str,
        object_id: str | None,
        outcome: str = "ok",
        **detail: Any,
    ) -> Event:
        return Event(
            self.clock(),
            actor.project_id,
            actor.key_id,
            action,
            object_type,
            object_id,
            outcome,
            detail,
        )

    @contextmanager
    def _changing(
        self, actor: Actor, action: str, object_type: str, object_id: str | None
    ) -> Iterator[DbConnection]:
        """A write transaction; a refused change is audited, as a change of the object it
        was refused for, after the rollback."""
        try:
            with self.db.write() as conn:
                yield conn
        except GatekeyError as exc:
            self.audit.submit(
                self._event(actor, action, object_type, object_id, "refused", code=exc.code)
            )
            raise

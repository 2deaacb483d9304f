"""What every part of the service shares: the actor, the clock, the injected parts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection as DbConnection

from gatekey import ids
from gatekey.catalog.loader import Catalog
from gatekey.crypto.vault import Vault
from gatekey.domain import webhooks as hooks
from gatekey.domain.roles import Role
from gatekey.errors import GatekeyError, PermissionDenied
from gatekey.metrics import Metrics
from gatekey.oauth.clients import ClientSecrets
from gatekey.oauth.provider import ProviderClient
from gatekey.oauth.refresh import Refresher
from gatekey.oauth.refresh_store import RefreshStore
from gatekey.oauth.revocation import Revoker
from gatekey.probe import Prober
from gatekey.ratelimit import Limiter, Limits, MemoryLimiter
from gatekey.service.actor import OPERATOR, Actor, authorize
from gatekey.service.app_registry import AppRegistry
from gatekey.service.budgets import Budgets
from gatekey.service.credentials import Resolver
from gatekey.service.key_cache import KeyCache
from gatekey.store import connections as connection_rows
from gatekey.store import webhooks as webhook_rows
from gatekey.store.audit import AuditWriter, Event
from gatekey.store.database import Database
from gatekey.store.secret_reader import SecretReader
from gatekey.workflows.registry import StepRegistry
from gatekey.workflows.sandbox import StepSandbox

Clock = Callable[[], datetime]
__all__ = ["OPERATOR", "Actor", "Clock", "ServiceBase", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class ServiceBase:
    """The injected parts, access checks and audit helpers."""

    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        vault: Vault,
        prober: Prober,
        audit: AuditWriter,
        provider: ProviderClient,
        *,
        clock: Clock = utcnow,
        callback_url: str = "http://127.0.0.1:8040/oauth/callback",
        session_ttl: timedelta = timedelta(minutes=10),
        limiter: Limiter | None = None,
        limits: Limits | None = None,
        step_registry: StepRegistry | None = None,
        step_sandbox: StepSandbox | None = None,
        refresh_commit_seconds: float = 30.0,
        key_cache_seconds: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
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
        self.limiter: Limiter = limiter or MemoryLimiter()
        self.limits = limits or Limits()
        self.metrics = Metrics(db)
        self.step_registry = step_registry or StepRegistry.installed()
        self.step_sandbox = step_sandbox or StepSandbox()
        self.budgets = Budgets(self.limiter, self.limits, self.metrics)
        self.keys = KeyCache(key_cache_seconds)
        # The credential parts: built here until the composition root builds every part. They
        # read the clock through ``_now``, so a clock set on the service later holds for them.
        self.secrets = SecretReader(db)
        self.client_secrets = ClientSecrets(db, vault)
        store = RefreshStore(
            db,
            self.secrets,
            vault,
            self._emit_for,
            clock=self._now,
            provider_timeout=lambda: provider.timeout,
            commit_seconds=refresh_commit_seconds,
        )
        self.refresher = Refresher(
            db,
            self.secrets,
            vault,
            self.apps,
            provider,
            self.metrics,
            self.client_secrets,
            store,
            clock=self._now,
            sleep=sleep,
        )
        self.revoker = Revoker(provider, self.client_secrets, sleep=sleep)
        self.resolver = Resolver(
            self.secrets,
            self.apps,
            vault,
            self.refresher,
            audit,
            self.metrics,
            self.budgets,
            clock=self._now,
        )

    def _now(self) -> datetime:
        return self.clock()

    def _throttle(self, limit: str, subject: str, what: str) -> None:
        """Count a request against one budget of ``Limits``; raise ``RateLimited`` when spent."""
        self.budgets.spend(limit, subject, what)

    def _throttle_actor(self, kind: str, actor: Actor, what: str) -> None:
        """The per-key and per-project budgets of ``kind``; the local operator has none."""
        self.budgets.spend_actor(kind, actor, what)

    def _enqueue_event(
        self,
        conn: Any,
        project_id: str,
        event_type: str,
        data: dict[str, Any],
        endpoints: Sequence[str],
    ) -> None:
        if not endpoints:
            return
        now = self.clock()
        event_id = ids.new_id("evt")
        body = hooks.body(event_id, event_type, now, data)
        webhook_rows.enqueue(
            conn,
            [
                {
                    "id": ids.new_id("whd"),
                    "endpoint_id": endpoint_id,
                    "project_id": project_id,
                    "event_id": event_id,
                    "event_type": event_type,
                    "body": body,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for endpoint_id in endpoints
            ],
        )

    def _emit(self, conn: DbConnection, event_type: str, connection: Any) -> None:
        """Queue a status event about ``connection`` (a row) for the endpoints that want it,
        in the caller's transaction: the change and its event commit together or not at all."""
        endpoints = webhook_rows.subscribed(conn, connection.project_id, event_type)
        if endpoints:
            data = {"connection": hooks.connection_payload(connection)}
            self._enqueue_event(conn, connection.project_id, event_type, data, endpoints)

    def _emit_for(self, conn: DbConnection, event_type: str, project_id: str, cid: str) -> None:
        """``_emit`` for a connection read back inside the transaction (its new state)."""
        row = connection_rows.get(conn, project_id, cid)
        if row is not None:
            self._emit(conn, event_type, row)

    def _set_connection(
        self, conn: DbConnection, project_id: str, cid: str, values: dict[str, Any]
    ) -> None:
        """Update a connection; a change of status queues ``inactive`` or ``recovered``."""
        before = connection_rows.get(conn, project_id, cid)
        connection_rows.set_values(conn, project_id, cid, values)
        after = values.get("status")
        if before is not None and after is not None and after != before.status:
            event = "connection.inactive" if after == "inactive" else "connection.recovered"
            self._emit_for(conn, event, project_id, cid)

    @staticmethod
    def _authorize(actor: Actor, operation: str) -> None:
        """Refuse ``operation`` unless the table in ``domain.roles`` allows it to the actor's
        role; the local operator may do everything."""
        authorize(actor, operation)

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
    def _changing(self, actor: Actor, action: str, object_id: str | None) -> Iterator[DbConnection]:
        """A write transaction; a refused change is audited after the rollback."""
        try:
            with self.db.write() as conn:
                yield conn
        except GatekeyError as exc:
            self.audit.submit(
                self._event(actor, action, "connection", object_id, "refused", code=exc.code)
            )
            raise

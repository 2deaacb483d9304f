"""What every part of the service shares: the actor, the clock, the injected parts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection as DbConnection

from gatekey.catalog.loader import Catalog
from gatekey.crypto.vault import Vault
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
from gatekey.store.audit import Event
from gatekey.store.connection_writer import ConnectionWriter
from gatekey.store.database import Database
from gatekey.store.secret_reader import SecretReader
from gatekey.store.webhooks import Outbox
from gatekey.workers.usage_writer import UsageWriter
from gatekey.workflows.registry import StepRegistry

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
        audit: UsageWriter,
        provider: ProviderClient,
        *,
        clock: Clock = utcnow,
        callback_url: str = "http://127.0.0.1:8040/oauth/callback",
        session_ttl: timedelta = timedelta(minutes=10),
        limiter: Limiter | None = None,
        limits: Limits | None = None,
        step_registry: StepRegistry | None = None,
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
        self.outbox = Outbox()
        self.writer = ConnectionWriter(self.outbox)
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
            self.writer,
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

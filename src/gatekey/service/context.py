"""What every part of the service shares: the database, the vault, the app registry, the clock,
the audit queue, the connection writer, the budgets and the metrics; an audited write."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection as DbConnection

from gatekey.crypto.vault import Vault
from gatekey.errors import GatekeyError
from gatekey.metrics import Metrics
from gatekey.service.actor import Actor
from gatekey.service.app_registry import AppRegistry
from gatekey.service.budgets import Budgets
from gatekey.store.audit import Event
from gatekey.store.connection_writer import ConnectionWriter
from gatekey.store.database import Database
from gatekey.store.webhooks import Outbox
from gatekey.workers.usage_writer import UsageWriter

Clock = Callable[[], datetime]
__all__ = ["Clock", "Context", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Context:
    """The parts every service object is built with. ``clock`` may be replaced (tests travel in
    time): every part reads it through ``now()`` at each use."""

    def __init__(
        self,
        db: Database,
        vault: Vault,
        registry: AppRegistry,
        audit: UsageWriter,
        writer: ConnectionWriter,
        outbox: Outbox,
        budgets: Budgets,
        metrics: Metrics,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.vault = vault
        self.registry = registry
        self.audit = audit
        self.writer = writer
        self.outbox = outbox
        self.budgets = budgets
        self.metrics = metrics
        self.clock = clock

    def now(self) -> datetime:
        return self.clock()

    def event(
        self,
        actor: Actor,
        action: str,
        object_type: str,
        object_id: str | None,
        outcome: str = "ok",
        **detail: Any,
    ) -> Event:
        """An audit entry by ``actor``, stamped now."""
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
    def refusals(
        self, actor: Actor, action: str, object_type: str, object_id: str | None
    ) -> Iterator[None]:
        """Audit a ``GatekeyError`` raised inside as a refused change of the object, and let
        it go on."""
        try:
            yield
        except GatekeyError as exc:
            self.audit.submit(
                self.event(actor, action, object_type, object_id, "refused", code=exc.code)
            )
            raise

    @contextmanager
    def changing(
        self, actor: Actor, action: str, object_type: str, object_id: str | None
    ) -> Iterator[DbConnection]:
        """A write transaction; a refused change is audited, as a change of the object it
        was refused for, after the rollback."""
        with self.refusals(actor, action, object_type, object_id), self.db.write() as conn:
            yield conn

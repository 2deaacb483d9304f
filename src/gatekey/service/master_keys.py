"""Master keys: listing, start-up check, rotation (rewrap in committed batches), retirement."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection as DbConnection

from gatekey.crypto.keys import generate
from gatekey.errors import (
    Hint,
    KeyInUse,
    NotFound,
)
from gatekey.models import (
    MasterKeyInfo,
    RotationProgress,
)
from gatekey.service.context import Context
from gatekey.store import audit as audit_rows
from gatekey.store import sealed
from gatekey.store.audit import Event
from gatekey.store.tables import SEALED_TABLES


class MasterKeys:
    """Operator actions on the master keys."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _record_key_event(
        self, conn: DbConnection, action: str, key_id: str, detail: dict[str, Any] | None = None
    ) -> None:
        event = Event(
            self.ctx.now(), None, "operator", action, "master_key", key_id, "ok", detail or {}
        )
        audit_rows.record_now(conn, [event])

    def list(self) -> builtins.list[MasterKeyInfo]:
        ring = self.ctx.vault.reload()
        with self.ctx.db.read() as conn:
            usage = sealed.key_usage(conn)
        known = list(ring.ids) + sorted(set(usage) - set(ring.ids))
        return [
            MasterKeyInfo(
                id=k, primary=k == ring.primary.id, available=k in ring, data_keys=usage.get(k, 0)
            )
            for k in known
        ]

    def check(self) -> None:
        """Fail start-up, naming the key, if stored data needs a master key we do not have."""
        with self.ctx.db.read() as conn:
            self.ctx.vault.check_available(set(sealed.key_usage(conn)))

    def rotate(
        self,
        *,
        batch_size: int = 500,
        progress: Callable[[RotationProgress], None] | None = None,
    ) -> RotationProgress:
        """Add a master key (unless a rotation is unfinished) and rewrap every data key to it.

        Each batch commits on its own, so a crash loses at most one batch of work; running the
        command again resumes with whatever is still wrapped by an older key.
        """
        ring = self.ctx.vault.reload()
        with self.ctx.db.read() as conn:
            usage = sealed.key_usage(conn)
        leftover = sum(n for k, n in usage.items() if k != ring.primary.id)
        if leftover == 0:
            self.ctx.vault.provider.add(generate(self.ctx.now(), taken=ring.ids))
            ring = self.ctx.vault.reload()
            with self.ctx.db.write() as conn:
                self._record_key_event(conn, "keys.add", ring.primary.id)
            usage = {ring.primary.id: 0, **usage}
        remaining = sum(n for k, n in usage.items() if k != ring.primary.id)
        done = 0
        for table in SEALED_TABLES:
            while True:
                with self.ctx.db.write() as conn:
                    batch = sealed.not_wrapped_by(conn, table, ring.primary.id, batch_size)
                    if not batch:
                        break
                    sealed.store_rewrapped(
                        conn,
                        table,
                        [
                            (
                                r.id,
                                self.ctx.vault.rewrap(r.project_id, r.id, sealed.sealed_of(r)),
                                r.kek_id,
                            )
                            for r in batch
                        ],
                    )
                done += len(batch)
                remaining = max(remaining - len(batch), 0)
                if progress is not None:
                    progress(
                        RotationProgress(key_id=ring.primary.id, done=done, remaining=remaining)
                    )
        with self.ctx.db.write() as conn:
            self._record_key_event(conn, "keys.rotate", ring.primary.id, {"rewrapped": done})
        return RotationProgress(key_id=ring.primary.id, done=done, remaining=0)

    def retire(self, key_id: str) -> None:
        """Remove a master key that no data key references any more."""
        ring = self.ctx.vault.reload()
        if key_id not in ring:
            raise NotFound(f"master key {key_id!r} is not configured")
        if key_id == ring.primary.id:
            raise KeyInUse(
                f"master key {key_id!r} is the primary key; rotate first",
                hint=Hint("rotate_master_key"),
            )
        with self.ctx.db.read() as conn:
            in_use = sealed.key_usage(conn).get(key_id, 0)
        if in_use:
            raise KeyInUse(
                f"master key {key_id!r} still wraps {in_use} data key(s); rotate first",
                hint=Hint("rotate_master_key"),
                key_id=key_id,
                data_keys=in_use,
            )
        self.ctx.vault.provider.remove(key_id)
        self.ctx.vault.reload()
        with self.ctx.db.write() as conn:
            self._record_key_event(conn, "keys.retire", key_id)

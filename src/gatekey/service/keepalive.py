"""Keeping alive credentials a provider deactivates when idle (``AuthMethod.idle_expiry_days``).

Zendesk deactivates an API token left unused for 30 days. A connection of such a method unused
for ``catalog.lifecycle.keep_alive_after`` of its limit (15 days) is used by the keep-alive
sweep (``workers.keepalive``): claimed for one window (``store.keepalive``: one process
tests it, however many sweep), then tested through ``ConnectionTester``, as Test does. A
passing test counts as a use (a credential read on the usage writer, which stamps
``last_used_at``); credentials the provider refuses end inactive with its reason, as Test
leaves them; a provider that cannot be reached is recorded (``keepalive_failed_at``: the
connection's view warns) and tried again by a sweep after the claim ends.

A method with no test request cannot be used without an execution: its connections are not
swept, and their views warn when they sit idle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from gatekey.catalog.lifecycle import keep_alive_after
from gatekey.catalog.schema import App, AuthMethod
from gatekey.errors import DestinationBlocked, ProviderUnavailable
from gatekey.service.actor import Actor
from gatekey.service.connection_tests import ConnectionTester
from gatekey.service.context import Context
from gatekey.service.credential_checks import has_test_request
from gatekey.service.lifecycle import last_use
from gatekey.store import connections as connection_rows
from gatekey.store import keepalive as rows

Outcome = Literal["kept", "refused", "unreachable", "skipped"]
"""What one keep-alive did: the provider accepted the credentials (a use), refused them (the
connection is inactive now), could not be reached (tried again later), or nothing was done
(another process holds the claim, the connection was used meanwhile or changed)."""

SHORTEST = keep_alive_after(2)
"""The shortest idle time any method allows (``idle_expiry_days`` is at least 2)."""


@dataclass(frozen=True)
class KeepAliveCandidate:
    project_id: str
    connection_id: str
    app: str


@dataclass(frozen=True)
class KeepAlivePage:
    """Connections due for a keep-alive, and the id the next page starts after (None: the
    last page)."""

    due: list[KeepAliveCandidate]
    after: str | None


class KeepAlive:
    """The system operations of the keep-alive sweep."""

    def __init__(self, ctx: Context, tester: ConnectionTester) -> None:
        self.ctx = ctx
        self.tester = tester

    def _kept(self, project_id: str, app_key: str, auth_kind: str) -> AuthMethod | None:
        """The connection's method, when it is one the sweep keeps alive."""
        entry = self.ctx.registry.find(project_id, app_key)
        if entry is None:
            return None
        try:
            method = entry.method(auth_kind)
        except LookupError:
            return None
        if method.idle_expiry_days is None or not has_test_request(entry, method):
            return None
        return method

    def candidates(self, *, limit: int, after: str | None = None) -> KeepAlivePage:
        """One page of connections unused long enough to be kept alive now, by id."""
        now = self.ctx.now()
        catalog: list[App] = list(self.ctx.registry.catalog)
        keys = [a.key for a in catalog if any(m.idle_expiry_days for m in a.auth)]
        with self.ctx.db.read() as conn:
            found = rows.candidates(
                conn,
                unused_before=now - SHORTEST,
                now=now,
                keys=keys,
                known=[a.key for a in catalog],
                after=after,
                limit=limit,
            )
        due = []
        for row in found:
            method = self._kept(row.project_id, row.app_key, row.auth_kind)
            if method is None or method.idle_expiry_days is None:
                continue
            if last_use(row.last_used_at, row.verified_at, row.created_at) < now - keep_alive_after(
                method.idle_expiry_days
            ):
                due.append(KeepAliveCandidate(row.project_id, row.id, row.app_key))
        return KeepAlivePage(due, found[-1].id if len(found) == limit else None)

    def keep_alive(self, project_id: str, connection_id: str, *, window: timedelta) -> Outcome:
        """Claim the connection for ``window`` and use it through its test request.

        Any other failure (the connection deleted meanwhile, the database away) is raised:
        the sweep logs its code and goes on, and the claim lets no sweep retry before it ends.
        """
        with self.ctx.db.read() as conn:
            row = connection_rows.get(conn, project_id, connection_id)
        method = None if row is None else self._kept(project_id, row.app_key, row.auth_kind)
        if method is None or method.idle_expiry_days is None:
            return "skipped"
        now = self.ctx.now()
        with self.ctx.db.write() as conn:
            won = rows.claim(
                conn,
                project_id,
                connection_id,
                unused_before=now - keep_alive_after(method.idle_expiry_days),
                now=now,
                until=now + window,
            )
        if not won:
            return "skipped"
        actor = Actor.operator(project_id)
        try:
            result = self.tester.run(actor, connection_id)
        except (ProviderUnavailable, DestinationBlocked):  # not reached, or not safely
            with self.ctx.db.write() as conn:
                rows.failed(conn, project_id, connection_id, self.ctx.now())
            return "unreachable"
        if not result.ok:
            return "refused"
        self.ctx.audit.read(self.ctx.now(), project_id, actor.key_id, connection_id)
        return "kept"

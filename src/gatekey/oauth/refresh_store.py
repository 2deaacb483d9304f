"""What a refresh writes down: the lease it takes, and whatever the provider answered.

Once the provider has answered, its answer is written down across a database outage: the
commit is retried for ``commit_seconds`` (a rotated refresh token exists nowhere else). It
replaces the token set it was refreshed from, and only that one: still after the lease lapsed,
never over a reconnect's. A revoked grant (through ``ConnectionWriter.set_status``, which
emits the one event the change calls for), or a failure to back off from, is written down the
same way, so that no lease outlives the refresh that took it; a refresh that ends without a
commit releases its lease, from a thread that rides out the outage if need be.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from gatekey.catalog.minted import Lifecycle
from gatekey.catalog.schema import MINTED
from gatekey.crypto.vault import Vault
from gatekey.domain import tokens
from gatekey.domain.connection import Change, Status, StatusChange, transition
from gatekey.errors import DatabaseUnavailable, GatekeyError, NotFound, ProviderUnavailable
from gatekey.oauth.token_answers import TokenResponse
from gatekey.store import audit as audit_rows
from gatekey.store import connections as rows
from gatekey.store.audit import Event
from gatekey.store.connection_writer import ConnectionWriter
from gatekey.store.database import Database, ride_out
from gatekey.store.secret_reader import Details, SecretReader, SecretRow

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
"""The shortest lease a refresh takes (longer when the provider's timeout asks for it)."""
SYSTEM = "operator"
"""The actor refreshes are audited as (the local operator's ``key_id``)."""
Fresh = tuple[SecretRow, dict[str, Any]]
T = TypeVar("T")


class RefreshStore:
    def __init__(
        self,
        db: Database,
        reader: SecretReader,
        vault: Vault,
        writer: ConnectionWriter,
        *,
        clock: Callable[[], datetime],
        provider_timeout: Callable[[], float],
        commit_seconds: float = 30.0,
    ) -> None:
        self._db = db
        self._reader = reader
        self._vault = vault
        self._writer = writer
        self._clock = clock
        self._provider_timeout = provider_timeout
        #: Seconds a refresh keeps trying to write down what the provider answered while the
        #: database is unavailable (``GATEKEY_REFRESH_COMMIT_SECONDS``).
        self.commit_seconds = commit_seconds

    def lease(self) -> timedelta:
        """How long a refresh may hold the lease: the provider's answer plus the commit."""
        work = timedelta(seconds=self._provider_timeout() + self.commit_seconds + 5)
        return max(LEASE, work)

    def ride_out(self, work: Callable[[], T], what: str) -> T:
        """Database work after the provider answered: retried across an outage."""
        return ride_out(work, budget=self.commit_seconds, what=what)

    def claim(self, row: SecretRow, owner: str, now: datetime) -> bool:
        """Take the row's lease as ``owner`` if nobody holds it and the row is still at the
        version read (``store.connections.claim_refresh``)."""
        sent: list[bool] = []
        try:
            with self._db.write() as conn:
                sent.append(True)  # from here on the claim may commit unacknowledged
                return rows.claim_refresh(
                    conn,
                    row.id,
                    version=row.version,
                    owner=owner,
                    until=now + self.lease(),
                    now=now,
                )
        except DatabaseUnavailable:
            if sent:
                self.release_when_back(row, owner)
            raise

    def store(
        self,
        row: SecretRow,
        spec: Lifecycle,
        secret: dict[str, Any],
        response: TokenResponse,
        owner: str,
    ) -> Fresh | None:
        """Commit the provider's answer; return None if another token set was stored first."""
        new_secret, config_update = tokens.merge(secret, response.body, spec.token_config_paths)
        unattended = row.auth_kind in MINTED
        expires = tokens.expires_at(
            response.body,
            response.sent_at,
            refetchable=unattended,
            default_lifetime=spec.default_token_lifetime_seconds,
        )
        box = self._vault.seal(row.project_id, row.id, new_secret)
        values: dict[str, Any] = {
            "secret_ciphertext": box.ciphertext,
            "dek_wrapped": box.wrapped_key,
            "kek_id": box.key_id,
            "expires_at": expires,
            "last_refreshed_at": response.sent_at,
            "verified_at": response.sent_at,
            "refresh_failures": 0,
            "refresh_retry_at": None,
            "last_error": None,
            "last_error_at": None,
        }
        if "scope" in response.body:
            values["scopes"] = tokens.granted_scopes(
                response.body, row.scopes, spec.scope_separator, spec.response_scope_separator
            )
        if config_update:
            values["config"] = {**row.config, **config_update}
        rotated = new_secret.get("refresh_token") != secret.get("refresh_token")
        event = self._event(row, "connection.refresh", "ok", rotated=rotated)

        def commit() -> rows.Stored:
            with self._db.write() as conn:
                outcome = rows.store_refresh(
                    conn,
                    row.id,
                    read_sealed=row.secret_ciphertext,
                    new_sealed=box.ciphertext,
                    values=values,
                )
                if outcome == "stored":
                    audit_rows.record_now(conn, [event])
            return outcome

        try:
            outcome = self.ride_out(commit, f"storing the refreshed token set of {row.id}")
        except DatabaseUnavailable:
            log.error(
                "the token set issued for %s (refresh token rotated: %s) is lost: the database "
                "stayed unavailable for %.0f s",
                row.id,
                rotated,
                self.commit_seconds,
            )
            self.release_when_back(row, owner)
            raise
        if outcome == "refused":
            log.warning(
                "refresh of %s: another token set was stored meanwhile; this answer is dropped",
                row.id,
            )
            return None
        fresh = self.ride_out(
            lambda: self._reader.read(row.project_id, row.id), f"re-reading {row.id}"
        )
        if fresh is None:
            raise NotFound(f"connection {row.id} not found", id=row.id)
        return fresh, new_secret

    def release(self, row: SecretRow, owner: str, values: dict[str, Any]) -> None:
        def release() -> None:
            with self._db.write() as conn:
                rows.finish_refresh(conn, row.id, owner, values, bump=False)

        self.ride_out(release, f"releasing the refresh lease of {row.id}")

    def release_when_back(self, row: SecretRow, owner: str) -> None:
        """Drop a lease this refresh may hold, from a thread that rides out the outage, so
        that whoever asks next need not wait for it to lapse (a no-op if it was not won)."""

        def finish() -> None:
            with self._db.write() as conn:
                rows.finish_refresh(conn, row.id, owner, {}, bump=False)

        def release() -> None:
            try:  # until the lease would have lapsed anyway
                what = f"releasing the refresh lease of {row.id}"
                ride_out(finish, budget=self.lease().total_seconds(), what=what)
            except DatabaseUnavailable:
                log.warning("the refresh lease of %s is left to lapse", row.id)

        threading.Thread(target=release, name="gk-lease-release", daemon=True).start()

    def release_quietly(self, row: SecretRow, owner: str) -> None:
        """Drop the lease, best effort: if the database is away it lapses on its own."""
        try:
            with self._db.write() as conn:
                rows.finish_refresh(conn, row.id, owner, {}, bump=False)
        except DatabaseUnavailable:
            log.warning("the refresh lease of %s is left to lapse: database unavailable", row.id)

    def record_failure(
        self, row: SecretRow, details: Details, owner: str, exc: GatekeyError
    ) -> None:
        """Note a failed token request and when to try again (backoff, ``Retry-After``)."""
        now = self._clock()
        failures = details.refresh_failures + 1
        retry_after = exc.retry_after if isinstance(exc, ProviderUnavailable) else None
        log.warning("token refresh of %s failed (%s), attempt %d", row.id, exc.code, failures)
        self.release(
            row,
            owner,
            {
                "refresh_failures": failures,
                "refresh_retry_at": now + tokens.backoff(failures, retry_after),
                "last_error": exc.message,
                "last_error_at": now,
            },
        )

    def deactivate(
        self, row: SecretRow, owner: str, change: Change, message: str
    ) -> StatusChange | None:
        """Make the connection inactive (``change``: the grant was revoked, or refreshing
        failed for good), if this refresh still holds the lease; return what changed."""
        now = self._clock()
        reason = transition(Status.ACTIVE, change, message).reason
        assert reason is not None
        event = self._event(row, "connection.deactivate", "failed", reason=reason.value)

        def deactivate() -> StatusChange | None:
            with self._db.write() as conn:
                return self._writer.set_status(
                    conn,
                    row.project_id,
                    row.id,
                    change,
                    now,
                    message=message,
                    values={"last_error": message, "last_error_at": now},
                    audit=event,
                    lease_owner=owner,
                )

        done = self.ride_out(deactivate, f"deactivating {row.id}")
        if done is not None:
            log.warning("connection %s is now inactive: %s", row.id, reason.value)
        return done

    def _event(self, row: SecretRow, action: str, outcome: str, **detail: Any) -> Event:
        return Event(
            self._clock(), row.project_id, SYSTEM, action, "connection", row.id, outcome, detail
        )

"""Fresh tokens for every execution: refresh once per expiry, across threads and processes.

Before an OAuth2 connection's credentials are handed out, a token that expires within the
margin (``domain.tokens.margin``) is replaced. One caller per process runs the refresh
(``Flights``); across processes and replicas the row's lease, taken by compare-and-swap on its
version, lets exactly one of them call the provider. The others wait for the version to move
and read the winner's token. The new token set is committed before anyone gets it.

Once the provider has answered, its answer is written down across a database outage: the
commit is retried for ``refresh_commit_seconds`` (a rotated refresh token exists nowhere
else). It replaces the token set it was refreshed from, and only that one: still after the
lease lapsed, never over a reconnect's. A refresh that ends without a commit releases its
lease. Waiters give up after the provider timeout plus that budget, and see an outage as
``DatabaseUnavailable`` at once.

Failure classes (``oauth.provider``): a revoked grant makes the connection inactive, after a
re-read shows no sibling rotated the token meanwhile; an OAuth client the provider refuses is
reported as such and leaves the connection as it is; an unavailable provider is recorded and
retried with backoff, and a still-valid token keeps being handed out meanwhile.
"""

from __future__ import annotations

import hmac
import logging
import secrets as random_tokens
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from gatekey.catalog.schema import App, AuthKind, AuthMethod, OAuth2Spec
from gatekey.domain import tokens
from gatekey.domain.apply import template_values
from gatekey.domain.connection import Reason, Status
from gatekey.errors import (
    ConnectionInactive,
    DatabaseUnavailable,
    GatekeyError,
    GrantRevoked,
    NotFound,
    OAuthClientMissing,
    OAuthClientRejected,
    ProviderUnavailable,
    TokenRequestRefused,
)
from gatekey.models import Deleted
from gatekey.oauth.flights import Flights
from gatekey.oauth.provider import ClientCredentials, TokenResponse
from gatekey.service.base import Actor
from gatekey.service.connections import ConnectionsMixin, inactive_error
from gatekey.service.oauth_clients import OAuthClientsMixin
from gatekey.store import audit as audit_rows
from gatekey.store import connections as rows
from gatekey.store import oauth as oauth_rows
from gatekey.store import sealed
from gatekey.store.database import ride_out
from gatekey.store.hot import AnyRow, SecretRow

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
REVOKE_ATTEMPTS = 3
NOT_SUPPORTED = object()
POLL_SECONDS = 0.01
MAX_MARGIN = timedelta(hours=1)
Fresh = tuple[AnyRow, dict[str, Any]]
T = TypeVar("T")


class RefreshCandidate(NamedTuple):
    project_id: str
    connection_id: str
    app: str
    idle: bool


class CandidatePage(NamedTuple):
    """Connections due for a background refresh, and where the next page starts (None: the
    last page)."""

    due: list[RefreshCandidate]
    after: tuple[datetime | None, str] | None


class TokensMixin(OAuthClientsMixin, ConnectionsMixin):
    """Refresh on resolution, on demand (the app said the token expired) and in the background."""

    _flights: Flights[Fresh] | None = None
    #: Seconds a refresh keeps trying to write down what the provider answered while the
    #: database is unavailable (``GATEKEY_REFRESH_COMMIT_SECONDS``).
    refresh_commit_seconds: float = 30.0

    @property
    def flights(self) -> Flights[Fresh]:
        if self._flights is None:
            self._flights = Flights()
        return self._flights

    def _due(self, row: AnyRow, spec: OAuth2Spec, ahead: timedelta | None = None) -> bool:
        """Whether a resolution must refresh first, or with ``ahead``, a background sweep."""
        margin = timedelta(seconds=spec.refresh_margin_seconds)
        now = self.clock()
        if ahead is None:
            return tokens.refresh_due(row.expires_at, row.last_refreshed_at, margin, now)
        return tokens.refresh_ahead_due(row.expires_at, row.last_refreshed_at, margin, now, ahead)

    def _idle(self, last_refreshed_at: datetime | None, spec: OAuth2Spec) -> bool:
        """Whether the grant sat unrefreshed past the app's ``idle_refresh_days``."""
        days = spec.idle_refresh_days
        return (
            days is not None
            and last_refreshed_at is not None
            and last_refreshed_at < self.clock() - timedelta(days=days)
        )

    def _fresh(
        self, row: AnyRow, method: AuthMethod, secret: dict[str, Any], stale: str | None = None
    ) -> Fresh:
        """Return the row and token set to hand out, refreshed first when due (or stale)."""
        assert method.oauth2 is not None
        if stale is None and not self._due(row, method.oauth2):
            return row, secret
        return self.flights.run(row.id, lambda: self._refresh_shared(row, stale))

    def refresh_ahead(
        self, project_id: str, connection_id: str, *, ahead: timedelta, idle: bool
    ) -> bool:
        """Refresh a token due for it within ``ahead`` (or an idle grant) now.

        For the background refresher; return whether a token request was made. Both are
        judged on the row as it is now, not as the sweep listed it: a sibling replica may have
        refreshed it since.
        """
        row = self.secrets.read(project_id, connection_id)
        if row is None or row.status != Status.ACTIVE.value:
            return False
        method = self.apps.get(row.project_id, row.app_key).method(row.auth_kind)
        assert method.oauth2 is not None
        idle = idle and self._idle(row.last_refreshed_at, method.oauth2)
        if not idle and not self._due(row, method.oauth2, ahead):
            return False
        version = row.version
        fresh, _ = self.flights.run(
            row.id, lambda: self._refresh_shared(row, None, ahead=ahead, idle=idle)
        )
        return fresh.version != version

    def _lease(self) -> timedelta:
        """How long a refresh may hold the lease: the provider's answer plus the commit."""
        work = timedelta(seconds=self.provider.timeout + self.refresh_commit_seconds + 5)
        return max(LEASE, work)

    def _refresh_shared(
        self,
        first: AnyRow,
        stale: str | None,
        *,
        ahead: timedelta | None = None,
        idle: bool = False,
    ) -> Fresh:
        # a waiter gives up when the holder, had it been alive, would have given up too
        deadline = time.monotonic() + self.provider.timeout + self.refresh_commit_seconds + 1
        while True:
            row = self.secrets.read(first.project_id, first.id)
            if row is None:
                raise NotFound(f"connection {first.id} not found", id=first.id)
            if row.status != Status.ACTIVE.value:
                raise inactive_error(row)
            entry = self.apps.get(row.project_id, row.app_key)
            method = entry.method(row.auth_kind)
            assert method.oauth2 is not None
            secret = self.vault.open(row.project_id, row.id, sealed.sealed_of(row))
            now = self.clock()
            current = str(secret.get("access_token", ""))
            forced = (idle and self._idle(row.last_refreshed_at, method.oauth2)) or (
                stale is not None and hmac.compare_digest(current, stale)
            )
            if not forced and not self._due(row, method.oauth2, ahead):
                return row, secret
            valid = row.expires_at is None or row.expires_at > now
            if row.refresh_retry_at is not None and now < row.refresh_retry_at:
                if valid and not forced:
                    return row, secret
                wait = (row.refresh_retry_at - now).total_seconds()
                raise ProviderUnavailable(
                    f"{entry.name} could not refresh the token of {row.name!r} lately; "
                    f"next try in {wait:.0f} s",
                    id=row.id,
                    retry_after=round(wait, 1),
                )
            owner = random_tokens.token_hex(16)
            sent: list[bool] = []
            try:
                with self.db.write() as conn:
                    sent.append(True)  # from here on the claim may commit unacknowledged
                    won = rows.claim_refresh(
                        conn,
                        row.id,
                        version=row.version,
                        owner=owner,
                        until=now + self._lease(),
                        now=now,
                    )
            except DatabaseUnavailable:
                if sent:
                    self._release_when_back(row, owner)
                raise
            if won:
                fresh = self._refresh_now(row, entry, method, secret, owner)
                if fresh is not None:
                    return fresh
                idle, stale = False, None  # a sibling refreshed meanwhile: take its token
                continue
            if valid and not forced:
                return row, secret
            self._await_change(row, deadline)

    def _await_change(self, row: SecretRow, deadline: float) -> None:
        """Wait until the lease holder writes (the version moves) or its lease lapses.

        An outage meanwhile ends the wait with ``DatabaseUnavailable``, at once.
        """
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            now_row = self.secrets.read(row.project_id, row.id)
            if now_row is None or now_row.version != row.version:
                return
            lease = now_row.refresh_lease_until
            if lease is None or lease <= self.clock():
                return
        raise ProviderUnavailable(
            f"the token refresh of {row.name!r} took too long; try again", id=row.id, retry_after=1
        )

    def _ride_out(self, work: Callable[[], T], what: str) -> T:
        """Database work after the provider answered: retried across an outage."""
        return ride_out(work, budget=self.refresh_commit_seconds, what=what)

    def _token_request(
        self, row: SecretRow, entry: App, method: AuthMethod, secret: dict[str, Any]
    ) -> TokenResponse:
        spec = method.oauth2
        assert spec is not None
        values = template_values(method, dict(row.config))
        if method.kind is AuthKind.OAUTH2_CLIENT_CREDENTIALS:
            client = ClientCredentials(str(secret["client_id"]), str(secret["client_secret"]))
            return self.provider.client_credentials(
                spec, values, client, app_name=entry.name, scopes=row.scopes
            )
        refresh_token = secret.get("refresh_token")
        if not refresh_token:
            raise TokenRequestRefused(
                f"the access token expired and {entry.name} gave no refresh token"
            )
        if row.oauth_client_id is None:
            raise OAuthClientMissing("this connection has no OAuth client; reconnect it")
        client = self._client_secret(row.project_id, row.oauth_client_id)
        return self.provider.refresh(
            spec, values, client, app_name=entry.name, refresh_token=str(refresh_token)
        )

    def _counted_token_request(
        self, row: SecretRow, entry: App, method: AuthMethod, secret: dict[str, Any]
    ) -> TokenResponse:
        """``_token_request``, timed and counted by outcome for the metrics."""
        with self.metrics.provider_call(entry.key, "token"):
            try:
                response = self._token_request(row, entry, method, secret)
            except GatekeyError as exc:
                self.metrics.refreshes.labels(entry.key, exc.code).inc()
                raise
        self.metrics.refreshes.labels(entry.key, "ok").inc()
        return response

    def _refresh_now(
        self,
        row: SecretRow,
        entry: App,
        method: AuthMethod,
        secret: dict[str, Any],
        owner: str,
    ) -> Fresh | None:
        """Call the provider holding the lease; return None if a sibling rotated meanwhile.

        Whatever the provider answered is written down even if the database goes away for a
        while (``refresh_commit_seconds``): the new token set above all, since a rotated
        refresh token exists nowhere else, but also a revoked grant or a failure to back off
        from, so that no lease outlives the refresh that took it.
        """
        spec = method.oauth2
        assert spec is not None
        try:
            response = self._counted_token_request(row, entry, method, secret)
        except GrantRevoked as exc:
            now_row = self._ride_out(
                lambda: self.secrets.read(row.project_id, row.id), f"re-reading {row.id}"
            )
            if now_row is not None and now_row.version != row.version:
                self._release(row, owner, {})
                return None
            if not self._deactivate(row, owner, Reason.REVOKED, exc.message):
                return None
            raise self._now_inactive(row, Reason.REVOKED, exc.message) from None
        except TokenRequestRefused as exc:
            if not self._deactivate(row, owner, Reason.REFRESH_FAILED, exc.message):
                return None
            raise self._now_inactive(row, Reason.REFRESH_FAILED, exc.message) from None
        except (ProviderUnavailable, OAuthClientRejected, OAuthClientMissing) as exc:
            self._record_failure(row, owner, exc)
            valid = row.expires_at is None or row.expires_at > self.clock()
            if valid and isinstance(exc, ProviderUnavailable):
                return row, secret
            raise
        except BaseException:
            self._release_quietly(row, owner)
            raise
        return self._store_refresh(row, spec, secret, response, owner)

    def _store_refresh(
        self,
        row: SecretRow,
        spec: OAuth2Spec,
        secret: dict[str, Any],
        response: TokenResponse,
        owner: str,
    ) -> Fresh | None:
        """Commit the provider's answer; return None if another token set was stored first."""
        new_secret, config_update = tokens.merge(secret, response.body, spec.token_response_config)
        unattended = row.auth_kind == AuthKind.OAUTH2_CLIENT_CREDENTIALS.value
        expires = tokens.expires_at(response.body, response.sent_at, refetchable=unattended)
        box = self.vault.seal(row.project_id, row.id, new_secret)
        values: dict[str, Any] = {
            "secret_ciphertext": box.ciphertext,
            "dek_wrapped": box.wrapped_key,
            "kek_id": box.key_id,
            "expires_at": expires,
            "last_refreshed_at": response.sent_at,
            "refresh_failures": 0,
            "refresh_retry_at": None,
            "last_error": None,
            "last_error_at": None,
        }
        if "scope" in response.body:
            values["scopes"] = tokens.granted_scopes(
                response.body, row.scopes, spec.scope_separator
            )
        if config_update:
            values["config"] = {**row.config, **config_update}
        rotated = new_secret.get("refresh_token") != secret.get("refresh_token")
        event = self._event(
            Actor.operator(row.project_id),
            "connection.refresh",
            "connection",
            row.id,
            rotated=rotated,
        )

        def commit() -> rows.Stored:
            with self.db.write() as conn:
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
            outcome = self._ride_out(commit, f"storing the refreshed token set of {row.id}")
        except DatabaseUnavailable:
            log.error(
                "the token set issued for %s (refresh token rotated: %s) is lost: the database "
                "stayed unavailable for %.0f s",
                row.id,
                rotated,
                self.refresh_commit_seconds,
            )
            self._release_when_back(row, owner)
            raise
        if outcome == "refused":
            log.warning(
                "refresh of %s: another token set was stored meanwhile; this answer is dropped",
                row.id,
            )
            return None
        fresh = self._ride_out(
            lambda: self.secrets.read(row.project_id, row.id), f"re-reading {row.id}"
        )
        if fresh is None:
            raise NotFound(f"connection {row.id} not found", id=row.id)
        return fresh, new_secret

    @staticmethod
    def _now_inactive(row: SecretRow, reason: Reason, message: str) -> ConnectionInactive:
        return ConnectionInactive(
            f"connection {row.name!r} ({row.id}) is inactive: {message}; reconnect it",
            id=row.id,
            reason=reason.value,
        )

    def _release(self, row: SecretRow, owner: str, values: dict[str, Any]) -> None:
        def release() -> None:
            with self.db.write() as conn:
                rows.finish_refresh(conn, row.id, owner, values, bump=False)

        self._ride_out(release, f"releasing the refresh lease of {row.id}")

    def _release_when_back(self, row: SecretRow, owner: str) -> None:
        """Drop a lease this refresh may hold, from a thread that rides out the outage, so
        that whoever asks next need not wait for it to lapse (a no-op if it was not won)."""

        def finish() -> None:
            with self.db.write() as conn:
                rows.finish_refresh(conn, row.id, owner, {}, bump=False)

        def release() -> None:
            try:  # until the lease would have lapsed anyway
                what = f"releasing the refresh lease of {row.id}"
                ride_out(finish, budget=self._lease().total_seconds(), what=what)
            except DatabaseUnavailable:
                log.warning("the refresh lease of %s is left to lapse", row.id)

        threading.Thread(target=release, name="gk-lease-release", daemon=True).start()

    def _release_quietly(self, row: SecretRow, owner: str) -> None:
        """Drop the lease, best effort: if the database is away it lapses on its own."""
        try:
            with self.db.write() as conn:
                rows.finish_refresh(conn, row.id, owner, {}, bump=False)
        except DatabaseUnavailable:
            log.warning("the refresh lease of %s is left to lapse: database unavailable", row.id)

    def _record_failure(self, row: SecretRow, owner: str, exc: GatekeyError) -> None:
        now = self.clock()
        failures = row.refresh_failures + 1
        retry_after = exc.retry_after if isinstance(exc, ProviderUnavailable) else None
        log.warning("token refresh of %s failed (%s), attempt %d", row.id, exc.code, failures)
        self._release(
            row,
            owner,
            {
                "refresh_failures": failures,
                "refresh_retry_at": now + tokens.backoff(failures, retry_after),
                "last_error": exc.message,
                "last_error_at": now,
            },
        )

    def _deactivate(self, row: SecretRow, owner: str, reason: Reason, message: str) -> bool:
        """Make the connection inactive, if this refresh still holds the lease."""
        now = self.clock()

        def deactivate() -> bool:
            with self.db.write() as conn:
                done = rows.finish_refresh(
                    conn,
                    row.id,
                    owner,
                    {
                        "status": Status.INACTIVE.value,
                        "status_reason": reason.value,
                        "status_message": message,
                        "last_error": message,
                        "last_error_at": now,
                        "updated_at": now,
                    },
                    bump=True,
                )
                if not done:
                    return False
                audit_rows.record_now(
                    conn,
                    [
                        self._event(
                            Actor.operator(row.project_id),
                            "connection.deactivate",
                            "connection",
                            row.id,
                            "failed",
                            reason=reason.value,
                        )
                    ],
                )
                self._emit_for(conn, "connection.inactive", row.project_id, row.id)
                return True

        done = self._ride_out(deactivate, f"deactivating {row.id}")
        if done:
            log.warning("connection %s is now inactive: %s", row.id, reason.value)
        return done

    # -- background refresh ---------------------------------------------------------------------

    def refresh_candidates(
        self,
        *,
        ahead: timedelta,
        limit: int,
        after: tuple[datetime | None, str] | None = None,
    ) -> CandidatePage:
        """Return one page of connections whose token falls due (by its app's margin) within
        ``ahead``, or whose grant sits idle longer than its app's ``idle_refresh_days``;
        soonest expiry first. Pass ``page.after`` back to read the next page."""
        now = self.clock()
        with self.db.read() as conn:
            found = rows.refresh_candidates(
                conn,
                due_before=now + ahead + MAX_MARGIN,
                idle_before=now - timedelta(days=1),
                limit=limit,
                after=after,
            )
        out = []
        for row in found:
            entry = self.apps.find(row.project_id, row.app_key)
            if entry is None:
                continue
            try:
                spec = entry.method(row.auth_kind).oauth2
            except LookupError:
                continue
            if spec is None:
                continue
            idle = self._idle(row.last_refreshed_at, spec)
            margin = timedelta(seconds=spec.refresh_margin_seconds)
            due = tokens.refresh_ahead_due(
                row.expires_at, row.last_refreshed_at, margin, now, ahead
            )
            if idle or due:
                out.append(RefreshCandidate(row.project_id, row.id, row.app_key, idle))
        last = (found[-1].expires_at, found[-1].id) if len(found) == limit else None
        return CandidatePage(out, last)

    def purge_authorization_sessions(self, older_than: timedelta = timedelta(days=1)) -> int:
        """Delete authorization sessions that expired more than ``older_than`` ago."""
        with self.db.write() as conn:
            return oauth_rows.purge_sessions(conn, self.clock() - older_than)

    # -- revocation at the provider (RFC 7009) --------------------------------------------------

    def delete_connection(
        self, actor: Actor, connection_id: str, *, force: bool = False
    ) -> Deleted:
        """Delete, then revoke an OAuth2 grant at the provider, best effort, retried on 503."""
        self._require_admin(actor)
        revocation = self._revocation(actor, connection_id)
        deleted = super().delete_connection(actor, connection_id, force=force)
        if revocation is None:
            return deleted
        if revocation is NOT_SUPPORTED:
            return deleted.model_copy(update={"provider_revocation": "not_supported"})
        outcome, detail = self._revoke(revocation)
        self.audit.submit(
            self._event(
                actor,
                "connection.revoke",
                "connection",
                connection_id,
                "ok" if outcome == "revoked" else "failed",
                **detail,
            )
        )
        return deleted.model_copy(update={"provider_revocation": outcome})

    def _revocation(self, actor: Actor, connection_id: str) -> Any:
        """Return what revoking the grant needs, ``NOT_SUPPORTED``, or None (not OAuth2)."""
        try:
            row, entry, method, secret = self._open(actor, connection_id)
        except GatekeyError:
            return None
        spec = method.oauth2
        if spec is None:
            return None
        if not spec.revocation_url:
            return NOT_SUPPORTED
        try:
            if method.kind is AuthKind.OAUTH2_CLIENT_CREDENTIALS:
                client = ClientCredentials(str(secret["client_id"]), str(secret["client_secret"]))
            elif row.oauth_client_id is not None:
                client = self._client_secret(row.project_id, row.oauth_client_id)
            else:
                return None
        except GatekeyError:
            return None
        hint = "refresh_token" if secret.get("refresh_token") else "access_token"
        token = str(secret.get(hint) or "")
        values = template_values(method, dict(row.config))
        return (spec, values, client, entry.name, token, hint)

    def _revoke(self, revocation: Any) -> tuple[str, dict[str, Any]]:
        spec, values, client, app_name, token, hint = revocation
        for attempt in range(REVOKE_ATTEMPTS):
            try:
                self.provider.revoke(
                    spec, values, client, app_name=app_name, token=token, token_type_hint=hint
                )
                return "revoked", {"attempts": attempt + 1}
            except ProviderUnavailable as exc:
                if attempt + 1 == REVOKE_ATTEMPTS:
                    return "failed", {"attempts": attempt + 1, "code": exc.code}
                time.sleep(min(exc.retry_after or 0.5 * 2**attempt, 5.0))
            except GatekeyError as exc:
                return "failed", {"attempts": attempt + 1, "code": exc.code}
        return "failed", {}

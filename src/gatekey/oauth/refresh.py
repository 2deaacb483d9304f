"""Fresh tokens for every execution: refresh once per expiry, across threads and processes
(RFC 6749 section 6). Tokens the other recipes mint (a signed JWT, an assertion grant, a GitHub
App installation token, AWS temporary credentials, a login's session token) go the same way:
their method's ``lifecycle`` says when, ``oauth.minting`` makes the new one.

Before an OAuth2 connection's credentials are handed out, a token that expires within the
margin (``domain.tokens.margin``) is replaced. One caller per process runs the refresh
(``Flights``); across processes and replicas the row's lease, taken by compare-and-swap on its
version, lets exactly one of them call the provider. The others wait for the version to move
and read the winner's token. What to do on each reading of the row is ``domain.refresh.
decide``; what a refresh writes (across a database outage, within ``commit_seconds``) is
``RefreshStore``. Waiters give up after the provider timeout plus that budget, and see an
outage as ``DatabaseUnavailable`` at once.

Failure classes (``oauth.provider``): a revoked grant makes the connection inactive, after a
re-read shows no sibling rotated the token meanwhile; an OAuth client the provider refuses is
reported as such and leaves the connection as it is; an unavailable provider is recorded and
retried with backoff, and a still-valid token keeps being handed out meanwhile.
"""

from __future__ import annotations

import secrets as random_tokens
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from gatekey.catalog.minted import Lifecycle
from gatekey.catalog.schema import App, AuthKind, AuthMethod
from gatekey.crypto.vault import Vault
from gatekey.domain import refresh
from gatekey.domain.apply import template_values
from gatekey.domain.connection import Change, Status
from gatekey.domain.credentials import inactive_error, inactive_of
from gatekey.domain.refresh import Action, TokenState
from gatekey.errors import (
    CredentialsRejected,
    GatekeyError,
    GrantRevoked,
    NotFound,
    OAuthClientMissing,
    OAuthClientRejected,
    ProviderUnavailable,
    TokenRequestRefused,
)
from gatekey.metrics import Metrics
from gatekey.oauth.client_assertions import fields_client, token_identity
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.flights import Flights
from gatekey.oauth.minting import Mint, Minters
from gatekey.oauth.provider import ProviderClient
from gatekey.oauth.refresh_store import Fresh, RefreshStore
from gatekey.oauth.token_answers import TokenResponse
from gatekey.store import connections as rows
from gatekey.store import sealed
from gatekey.store.database import Database
from gatekey.store.secret_reader import Details, SecretReader, SecretRow

POLL_SECONDS = 0.01
MAX_MARGIN = timedelta(hours=1)
_ACTIVE = Status.ACTIVE.value

ClientSecrets = Callable[[str, str], ClientCredentials]
"""The id and decrypted secret of a project's OAuth client: (project id, client row id)."""


class Apps(Protocol):
    def get(self, project_id: str, key: str) -> App: ...
    def find(self, project_id: str, key: str) -> App | None: ...


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


def margin_of(spec: Lifecycle) -> timedelta:
    return timedelta(seconds=spec.refresh_margin_seconds)


class Refresher:
    """Refresh on resolution, on demand (the app said the token expired) and ahead of time."""

    def __init__(
        self,
        db: Database,
        reader: SecretReader,
        vault: Vault,
        apps: Apps,
        provider: ProviderClient,
        metrics: Metrics,
        client_secret: ClientSecrets,
        store: RefreshStore,
        *,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None] = time.sleep,
        minters: Minters | None = None,
    ) -> None:
        self._minters = minters or Minters({})
        self._db = db
        self._reader = reader
        self._vault = vault
        self._apps = apps
        self._provider = provider
        self._metrics = metrics
        self._client_secret = client_secret
        self.store = store
        self._clock = clock
        self._sleep = sleep
        self._flights: Flights[Fresh] = Flights()

    def fresh(
        self, row: SecretRow, spec: Lifecycle, secret: dict[str, Any], stale: str | None = None
    ) -> Fresh:
        """Return the row and token set to hand out, refreshed first when due (or when
        ``stale``, the token the app just refused, is still the stored one)."""
        if stale is None and not refresh.due(
            row.expires_at, row.last_refreshed_at, margin_of(spec), self._clock()
        ):
            return row, secret
        return self._flights.run(row.id, lambda: self._shared(row, stale))

    def refresh_ahead(
        self, project_id: str, connection_id: str, *, ahead: timedelta, idle: bool
    ) -> bool:
        """Refresh a token due for it within ``ahead`` (or an idle grant) now.

        For the background refresher; return whether a token request was made. Both are
        judged on the row as it is now, not as the sweep listed it: a sibling replica may have
        refreshed it since.
        """
        row = self._reader.read(project_id, connection_id)
        if row is None or row.status != _ACTIVE:
            return False
        spec = self._apps.get(row.project_id, row.app_key).method(row.auth_kind).lifecycle
        assert spec is not None
        now = self._clock()
        idle = idle and refresh.idle(row.last_refreshed_at, spec.idle_refresh_days, now)
        if not idle and not refresh.due(
            row.expires_at, row.last_refreshed_at, margin_of(spec), now, ahead
        ):
            return False
        version = row.version
        fresh, _ = self._flights.run(
            row.id, lambda: self._shared(row, None, ahead=ahead, idle=idle)
        )
        return fresh.version != version

    def _shared(
        self,
        first: SecretRow,
        stale: str | None,
        *,
        ahead: timedelta | None = None,
        idle: bool = False,
    ) -> Fresh:
        """Read the row and act on ``domain.refresh.decide`` until there is a token set to
        hand out (or a failure to report)."""
        # a waiter gives up when the holder, had it been alive, would have given up too
        deadline = time.monotonic() + self._provider.timeout + self.store.commit_seconds + 1
        while True:
            row, details = self._whole(first)
            if row.status != _ACTIVE:
                raise inactive_of(row, details)
            entry = self._apps.get(row.project_id, row.app_key)
            method = entry.method(row.auth_kind)
            spec = method.lifecycle
            assert spec is not None
            secret = self._vault.open(row.project_id, row.id, sealed.sealed_of(row))
            now = self._clock()
            forced = (
                idle and refresh.idle(row.last_refreshed_at, spec.idle_refresh_days, now)
            ) or (refresh.is_stale(str(secret.get("access_token", "")), stale))
            state = TokenState(
                row.expires_at,
                row.last_refreshed_at,
                details.refresh_retry_at,
                details.refresh_lease_until,
            )
            margin = margin_of(spec)
            decision = refresh.decide(state, now=now, margin=margin, forced=forced, ahead=ahead)
            if decision.action is Action.REFRESH:
                owner = random_tokens.token_hex(16)
                if self.store.claim(row, owner, now):
                    fresh = self._refresh_now(row, details, entry, method, secret, owner)
                    if fresh is not None:
                        return fresh
                    idle, stale = False, None  # a sibling refreshed meanwhile: take its token
                    continue
                decision = refresh.decide(
                    state, now=now, margin=margin, forced=forced, ahead=ahead, leased=True
                )
            if decision.action is Action.SERVE:
                return row, secret
            if decision.action is Action.FAIL:
                wait = decision.retry_after or 0.0
                raise ProviderUnavailable(
                    f"{entry.name} could not refresh the token of {details.name!r} lately; "
                    f"next try in {wait:.0f} s",
                    id=row.id,
                    retry_after=round(wait, 1),
                )
            self._await_change(row, details, deadline)

    def _whole(self, row: SecretRow) -> tuple[SecretRow, Details]:
        found = self._reader.whole(row.project_id, row.id)
        if found is None:
            raise NotFound(f"connection {row.id} not found", id=row.id)
        return found

    def _await_change(self, row: SecretRow, details: Details, deadline: float) -> None:
        """Wait until the lease holder writes (the version moves) or its lease lapses.

        An outage meanwhile ends the wait with ``DatabaseUnavailable``, at once.
        """
        while time.monotonic() < deadline:
            self._sleep(POLL_SECONDS)
            found = self._reader.whole(row.project_id, row.id)
            if found is None or found[0].version != row.version:
                return
            lease = found[1].refresh_lease_until
            if lease is None or lease <= self._clock():
                return
        raise ProviderUnavailable(
            f"the token refresh of {details.name!r} took too long; try again",
            id=row.id,
            retry_after=1,
        )

    def _token_request(
        self,
        row: SecretRow,
        details: Details,
        entry: App,
        method: AuthMethod,
        secret: dict[str, Any],
    ) -> TokenResponse:
        if method.kind not in (AuthKind.OAUTH2, AuthKind.OAUTH2_CLIENT_CREDENTIALS):
            client = None
            if details.oauth_client_id is not None:
                client = self._client_secret(row.project_id, details.oauth_client_id)
            return self._minters.mint(
                Mint(entry, method, row.id, secret, dict(row.config), row.scopes, client)
            )
        spec = method.oauth2
        assert spec is not None
        values = template_values(method, dict(row.config))
        if method.kind is AuthKind.OAUTH2_CLIENT_CREDENTIALS:
            return self._provider.client_credentials(
                spec,
                values,
                fields_client(method, secret),
                app_name=entry.name,
                scopes=row.scopes,
                identity=token_identity(method, secret),
            )
        refresh_token = secret.get("refresh_token")
        if not refresh_token:
            raise TokenRequestRefused(
                f"the access token expired and {entry.name} gave no refresh token"
            )
        if details.oauth_client_id is None:
            raise OAuthClientMissing("this connection has no OAuth client; reconnect it")
        client = self._client_secret(row.project_id, details.oauth_client_id)
        return self._provider.refresh(
            spec, values, client, app_name=entry.name, refresh_token=str(refresh_token)
        )

    def _refresh_now(
        self,
        row: SecretRow,
        details: Details,
        entry: App,
        method: AuthMethod,
        secret: dict[str, Any],
        owner: str,
    ) -> Fresh | None:
        """Call the provider holding the lease; return None if a sibling rotated meanwhile.

        Whatever the provider answered is written down (``RefreshStore``) even if the database
        goes away for a while: the new token set above all, but also a revoked grant or a
        failure to back off from, so that no lease outlives the refresh that took it.
        """
        spec = method.lifecycle
        assert spec is not None
        store = self.store
        try:
            with self._metrics.provider_call(entry.key, "token"):
                try:
                    response = self._token_request(row, details, entry, method, secret)
                except GatekeyError as exc:
                    self._metrics.refreshes.labels(entry.key, exc.code).inc()
                    raise
            self._metrics.refreshes.labels(entry.key, "ok").inc()
        except GrantRevoked as exc:
            now_row = store.ride_out(
                lambda: self._reader.read(row.project_id, row.id), f"re-reading {row.id}"
            )
            if now_row is not None and now_row.version != row.version:
                store.release(row, owner, {})
                return None
            failed: tuple[Change, str] = (Change.GRANT_REVOKED, exc.message)
        except TokenRequestRefused as exc:
            failed = (Change.REFRESH_FAILED, exc.message)
        except CredentialsRejected as exc:  # a minter's provider refused the key
            failed = (Change.CREDENTIALS_REFUSED, exc.message)
        except (ProviderUnavailable, OAuthClientRejected, OAuthClientMissing) as exc:
            store.record_failure(row, details, owner, exc)
            valid = row.expires_at is None or row.expires_at > self._clock()
            if valid and isinstance(exc, ProviderUnavailable):
                return row, secret
            raise
        except BaseException:
            store.release_quietly(row, owner)
            raise
        else:
            return store.store(row, spec, secret, response, owner)
        outcome = store.deactivate(row, owner, *failed)
        if outcome is None:
            return None  # the lease was lost meanwhile: whoever holds it decides
        raise inactive_error(
            row.id,
            details.name,
            outcome.status.value,
            outcome.reason.value if outcome.reason else None,
            outcome.message,
            app_key=row.app_key,
            auth_kind=row.auth_kind,
        ) from None

    def candidates(
        self,
        *,
        ahead: timedelta,
        limit: int,
        after: tuple[datetime | None, str] | None = None,
    ) -> CandidatePage:
        """Return one page of connections whose token falls due (by its app's margin) within
        ``ahead``, or whose grant sits idle longer than its app's ``idle_refresh_days``;
        soonest expiry first. Pass ``page.after`` back to read the next page."""
        now = self._clock()
        with self._db.read() as conn:
            found = rows.refresh_candidates(
                conn,
                due_before=now + ahead + MAX_MARGIN,
                idle_before=now - timedelta(days=1),
                limit=limit,
                after=after,
            )
        out = []
        for row in found:
            entry = self._apps.find(row.project_id, row.app_key)
            if entry is None:
                continue
            try:
                spec = entry.method(row.auth_kind).lifecycle
            except LookupError:
                continue
            if spec is None:
                continue
            idle = refresh.idle(row.last_refreshed_at, spec.idle_refresh_days, now)
            due = refresh.due(row.expires_at, row.last_refreshed_at, margin_of(spec), now, ahead)
            if idle or due:
                out.append(RefreshCandidate(row.project_id, row.id, row.app_key, idle))
        last = (found[-1].expires_at, found[-1].id) if len(found) == limit else None
        return CandidatePage(out, last)

"""Credentials for executions: the hot path, in one place.

A resolution happens before every workflow step, so it is one indexed read of two columns
and, most of the time, nothing else that touches the database or a cipher. The read is the
connection's ``Stamp`` (version and ciphertext, and its project app's version, so a project's
own app is not read again while unchanged); what an earlier resolution made of the same
stamp under the same app definition is reused: the row (``SecretRow``, the one row type), the
decrypted secret and the applied auth rules, in one cache keyed by (project, id, version,
ciphertext). Every change to those columns bumps the version or writes a new ciphertext, in
whichever process or replica makes it, so a stale reading is never served; a new stamp reads
the row and decrypts once. The rest of the row (``Details``: names and status details) is read
only when an error needs it.

An OAuth2 token goes through the ``Refresher`` first (``oauth.refresh``: once per expiry,
across processes). The audit entry and ``last_used_at`` are queued for the group-commit
writer; the budgets are charged in one limiter call. What is handed out is shaped by
``domain.credentials.handed_out``, once per reading (refresh tokens and client secrets never
leave); each resolution hands out a copy of it (``copy_of``), the caller's to change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from gatekey import ids
from gatekey.catalog.schema import App, AuthMethod
from gatekey.crypto.cache import SecretCache
from gatekey.crypto.vault import Vault
from gatekey.domain.apply import apply
from gatekey.domain.connection import Status
from gatekey.domain.credentials import check_scopes, copy_of, handed_out, inactive_of
from gatekey.domain.inputs import checked_arguments
from gatekey.errors import GatekeyError, InvalidId, InvalidInput, NotFound
from gatekey.metrics import Metrics
from gatekey.models import BasicAuth, Credentials
from gatekey.oauth.refresh import Refresher
from gatekey.service.actor import OPERATOR, Actor, authorize
from gatekey.service.app_registry import AppRegistry
from gatekey.service.budgets import Budgets
from gatekey.signing import ClientTls, signing_from
from gatekey.store.sealed import sealed_of
from gatekey.store.secret_reader import Details, SecretReader, SecretRow
from gatekey.workers.usage_writer import UsageWriter

_ACTIVE = Status.ACTIVE.value


def check_id(connection_id: str) -> None:
    if not isinstance(connection_id, str) or not ids.is_valid("conn", connection_id):
        raise InvalidId("connection ids look like conn_ followed by 26 characters")


def missing(connection_id: str) -> NotFound:
    return NotFound(f"connection {connection_id} not found", id=connection_id)


def method_of(app: App, auth_kind: str | None) -> AuthMethod:
    """The app's method for ``auth_kind`` (its only or first one for None)."""
    try:
        return app.method(auth_kind)
    except LookupError:
        kinds = ", ".join(m.kind for m in app.auth)
        raise InvalidInput(
            f"{app.name} does not support auth kind {auth_kind!r} (it supports {kinds})"
        ) from None


class Opened(NamedTuple):
    """A connection read whole with its secret opened (a copy: the caller's to change)."""

    row: SecretRow
    details: Details
    app: App
    method: AuthMethod
    secret: dict[str, Any]


class _Reading:
    """What one stamp of a connection gives under one app definition. ``secret`` and
    ``handed`` are never handed out as they are; ``handed`` (the values of the ``Credentials``,
    shaped from the secret and the applied auth rules) is made by the first resolution that
    needs it."""

    __slots__ = ("app", "handed", "method", "row", "secret")

    def __init__(self, row: SecretRow, app: App, method: AuthMethod, secret: dict[str, Any]):
        self.row = row
        self.app = app
        self.method = method
        self.secret = secret
        self.handed: dict[str, Any] | None = None


@checked_arguments
class Resolver:
    def __init__(
        self,
        reader: SecretReader,
        apps: AppRegistry,
        vault: Vault,
        refresher: Refresher,
        audit: UsageWriter,
        metrics: Metrics,
        budgets: Budgets,
        *,
        clock: Callable[[], datetime],
        cache_entries: int = 10_000,
    ) -> None:
        self._reader = reader
        self._apps = apps
        self._vault = vault
        self._refresher = refresher
        self._audit = audit
        self._metrics = metrics
        self._resolved = metrics.resolved_ok
        self._budgets = budgets
        self._clock = clock
        self.cache: SecretCache[_Reading] = SecretCache(cache_entries)

    def resolve(
        self,
        actor: Actor,
        connection_id: str,
        *,
        stale_token: str | None = None,
        required_scopes: Sequence[str] = (),
    ) -> Credentials:
        """Return ready-to-use credentials for an execution; audited, never logged.

        An OAuth2 token that expires within the refresh margin is refreshed first;
        ``stale_token`` (the token the app just refused with one of ``expired_token_status``)
        forces a refresh unless another caller already did. ``required_scopes`` that the
        grant lacks fail with ``missing_scopes`` instead of a provider's 403 later.
        """
        try:
            if actor.key_id != OPERATOR:  # the local operator: allowed, no budget
                authorize(actor, "resolve_credentials")
                self._budgets.spend_actor("resolve", actor, "credential requests")
            reading = self._current(actor.project_id, connection_id)
            row = reading.row
            if row.status != _ACTIVE:
                details = self._details(row)
                raise inactive_of(row, details)
            if required_scopes and not set(required_scopes).issubset(row.scopes):
                check_scopes(self._details(row).name, row.id, row.scopes, required_scopes)
            spec = reading.method.lifecycle
            if spec is not None:
                fresh, secret = self._refresher.fresh(row, spec, reading.secret, stale_token)
                if fresh is not row:
                    reading = self._remember(fresh, reading.app, reading.method, secret)
        except GatekeyError as exc:
            self._metrics.resolved(exc.code)
            self._audit.read(
                self._clock(), actor.project_id, actor.key_id, connection_id, "refused", exc.code
            )
            raise
        values = copy_of(reading.handed or self._shape(reading))
        self._resolved()
        self._audit.read(self._clock(), actor.project_id, actor.key_id, connection_id)
        basic = values["basic"]
        if basic is not None:
            values["basic"] = BasicAuth.model_construct(username=basic[0], password=basic[1])
        signing = values["signing"]
        if signing is not None:
            values["signing"] = signing_from(signing)
        pair = values["client_certificate"]
        if pair is not None:
            values["client_certificate"] = ClientTls.model_construct(
                certificate=pair[0], private_key=pair[1]
            )
        return Credentials.trusted(values)

    def resolve_here(
        self,
        actor: Actor,
        connection_id: str,
        *,
        stale_token: str | None = None,
        required_scopes: Sequence[str] = (),
    ) -> Credentials | None:
        """``resolve``, when it cannot wait on a network: for an event loop, which would
        otherwise hand the call to a worker thread (a hop that costs more than the
        resolution). None, having done nothing, when only ``resolve`` can tell.

        It cannot wait when the database is a local file (SQLite), the rate limiter is this
        process's and the connection needs no token request: one this process has resolved
        before, of a kind whose credentials never expire (a connection's kind never changes).
        """
        authorize(actor, "resolve_credentials")
        if not self._reader.local or self._budgets.limiter.shared:
            return None
        seen = self.cache.latest(actor.project_id, connection_id)
        if seen is None or seen.method.lifecycle is not None:
            return None
        return self.resolve(
            actor, connection_id, stale_token=stale_token, required_scopes=required_scopes
        )

    def open(self, actor: Actor, connection_id: str) -> Opened:
        """Read the connection whole and open its secret, for edits, tests and exports: the
        whole secret, refresh token included, so admins only."""
        authorize(actor, "open_credentials")
        check_id(connection_id)
        found = self._reader.whole(actor.project_id, connection_id)
        if found is None:
            raise missing(connection_id)
        row, details = found
        app = self._apps.get(row.project_id, row.app_key)
        reading = self.cache.get((row.project_id, row.id, row.version, row.secret_ciphertext))
        if reading is None or reading.app is not app:
            secret = self._vault.open(row.project_id, row.id, sealed_of(row))
            reading = self._remember(row, app, method_of(app, row.auth_kind), secret)
        return Opened(row, details, app, reading.method, dict(reading.secret))

    def _current(self, project_id: str, connection_id: str) -> _Reading:
        """The reading of the connection as it is now: the cached one if its stamp is.

        The id's form is checked when no row has it (only a well-formed id is stored): a
        malformed one still fails with ``invalid_id``, without a regex on the hot path.
        """
        if type(connection_id) is not str:
            check_id(connection_id)
        stamp = self._reader.stamp(project_id, connection_id)
        if stamp is None:
            check_id(connection_id)
            raise missing(connection_id)
        reading = self.cache.get((project_id, connection_id, stamp[0], stamp[1]))
        if reading is not None and reading.app is self._apps.at(
            project_id, reading.row.app_key, stamp[2]
        ):
            return reading
        row = self._reader.read(project_id, connection_id)
        if row is None:  # deleted since the stamp was read
            raise missing(connection_id)
        app = self._apps.get(project_id, row.app_key)
        method = method_of(app, row.auth_kind)
        return self._remember(
            row, app, method, self._vault.open(project_id, row.id, sealed_of(row))
        )

    def _remember(
        self, row: SecretRow, app: App, method: AuthMethod, secret: dict[str, Any]
    ) -> _Reading:
        reading = _Reading(row, app, method, secret)
        self.cache.put((row.project_id, row.id, row.version, row.secret_ciphertext), reading)
        return reading

    def _shape(self, reading: _Reading) -> dict[str, Any]:
        """What this reading hands out (version covers config, ciphertext the secret), once:
        ``apply`` the app's rules, then ``handed_out``."""
        row, method, secret = reading.row, reading.method, reading.secret
        auth = apply(reading.app, method, {**secret, **row.config})
        handed = reading.handed = handed_out(row, reading.app, method, secret, auth)
        return handed

    def _details(self, row: SecretRow) -> Details:
        """The details of a row just read, for an error's message."""
        found = self._reader.whole(row.project_id, row.id)
        if found is None:
            raise missing(row.id)
        return found[1]

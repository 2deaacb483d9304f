"""Testing a connection: the app's test request, with one refresh of an OAuth2 token the app
refuses before deciding, and the outcome recorded as a status change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gatekey.catalog.schema import AuthKind
from gatekey.domain.connection import Change, Status
from gatekey.domain.credentials import inactive_of
from gatekey.errors import ConnectionInactive, CredentialsRejected
from gatekey.models import TestResult
from gatekey.oauth.refresh import Refresher
from gatekey.service.actor import Actor
from gatekey.service.context import Context
from gatekey.service.credential_checks import CredentialCheck, has_test_request
from gatekey.service.credentials import Resolver


class ConnectionTester:
    """What ``Connections.test`` runs once it has authorized the actor."""

    def __init__(
        self, ctx: Context, check: CredentialCheck, resolver: Resolver, refresher: Refresher
    ) -> None:
        self.ctx = ctx
        self.check = check
        self.resolver = resolver
        self.refresher = refresher

    def run(self, actor: Actor, connection_id: str) -> TestResult:
        """Run the app's test request; a refusal marks the connection inactive, success heals it.

        An active OAuth2 connection's token is refreshed first when due, and once more when
        the app refuses it (by its status, or by a body rule: Slack's HTTP 200
        ``token_expired`` or ``{"ok": false}``), before Gatekey decides: a revoked grant then
        reads revoked (the token endpoint says so), not "token invalid or expired". An
        inactive OAuth2 connection the app still refuses keeps its reason: the consent brings
        it back.
        """
        row, details, entry, method, secret = self.resolver.open(actor, connection_id)
        spec = method.oauth2
        active = row.status == Status.ACTIVE.value
        now = self.ctx.now()
        try:
            if spec is not None and active:
                row, secret = self.refresher.fresh(row, spec, secret)
            try:
                label = self.check.probe(entry, method, {**secret, **row.config}, secret)
            except CredentialsRejected:
                if spec is None or not active:
                    raise
                refused = secret.get("access_token")
                row, secret = self.refresher.fresh(row, spec, secret, str(refused))
                if secret.get("access_token") == refused:  # no new token came: refused it is
                    raise
                label = self.check.probe(entry, method, {**secret, **row.config}, secret)
        except ConnectionInactive as exc:
            return TestResult(ok=False, message=exc.message)
        except CredentialsRejected as exc:
            if spec is not None and not active and method.kind is AuthKind.OAUTH2:
                return TestResult(ok=False, message=inactive_of(row, details).message)
            self._record(actor, connection_id, Change.CREDENTIALS_REFUSED, now, message=exc.message)
            return TestResult(ok=False, message=exc.message)
        checked = has_test_request(entry, method)
        message = "credentials accepted" if checked else f"{entry.name} has no test request"
        label = label or details.account_label
        values: dict[str, Any] = {"account_label": label}
        if checked:
            values["verified_at"] = now
        self._record(actor, connection_id, Change.TEST_PASSED, now, values=values)
        return TestResult(ok=True, account_label=label, message=message)

    def _record(
        self,
        actor: Actor,
        connection_id: str,
        change: Change,
        now: datetime,
        *,
        message: str | None = None,
        values: dict[str, Any] | None = None,
    ) -> None:
        """Record the outcome of a test: the status change, audited as ``connection.test``."""
        passed = change is Change.TEST_PASSED
        audit = self.ctx.event(
            actor,
            "connection.test",
            "connection",
            connection_id,
            "ok" if passed else "failed",
            status=(Status.ACTIVE if passed else Status.INACTIVE).value,
        )
        with self.ctx.db.write() as conn:
            self.ctx.writer.set_status(
                conn,
                actor.project_id,
                connection_id,
                change,
                now,
                message=message,
                values=values,
                audit=audit,
            )

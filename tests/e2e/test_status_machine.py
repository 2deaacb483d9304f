"""Hypothesis state machines for a connection's status, driven through the service.

An API-key connection against the fake providers, and an OAuth2 connection against the sandbox:
random sequences of provider behaviour (accepting, refusing, down, faults, revocation) and
people's actions (test, resolve, new credentials, reconnect, rename). After every step the
status obeys the rules people rely on: Active or Inactive with a reason, credentials served
exactly when Active, never Inactive because a provider was merely down, the same id throughout.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from gatekey.errors import ConnectionInactive, CredentialsRejected, ProviderUnavailable
from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders
from tests.fakes.sandbox import CLIENT_ID, CLIENT_SECRET, Sandbox, connect

pytestmark = pytest.mark.slow  # fuzzing: Hypothesis state machines

MACHINE_SETTINGS = settings(
    max_examples=12,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _run(make: Callable[[], RuleBasedStateMachine]) -> None:
    run_state_machine_as_test(make, settings=MACHINE_SETTINGS)


def test_an_api_key_connection(settings: Settings) -> None:
    count = iter(range(1000))

    class ApiKeyConnection(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.providers = FakeProviders()
            home = settings.home.parent / f"machine-{next(count)}"
            url = (
                None
                if settings.resolved_database_url.startswith("sqlite")
                else settings.database_url
            )
            self.runtime: Runtime = open_runtime(
                settings.model_copy(update={"home": home, "database_url": url}),
                transport=self.providers.transport(),
            )
            self.service: Service = self.runtime.service
            number = next(count)
            self.actor = Actor.operator(self.service.system.create_project(f"machine {number}").id)
            self.id = self.service.connections.create(
                self.actor, app="sendgrid", name="SG", fields={"api_key": GOOD_SENDGRID}
            ).id
            self.expect_active = True

        def teardown(self) -> None:
            self.runtime.close()

        @rule(accepting=st.booleans())
        def provider_changes_its_mind(self, accepting: bool) -> None:
            self.providers.accepted = {GOOD_SENDGRID} if accepting else set()

        @rule(down=st.booleans())
        def provider_outage(self, down: bool) -> None:
            self.providers.outage = down

        @rule()
        def test_it(self) -> None:
            try:
                result = self.service.connections.test(self.actor, self.id)
            except ProviderUnavailable:
                assert self.providers.outage
                return
            assert result.ok == (GOOD_SENDGRID in self.providers.accepted)
            self.expect_active = result.ok

        @rule()
        def new_credentials(self) -> None:
            try:
                self.service.connections.update(
                    self.actor, self.id, fields={"api_key": GOOD_SENDGRID}
                )
            except (CredentialsRejected, ProviderUnavailable):
                return
            self.expect_active = True

        @rule(name=st.sampled_from(["SG", "SendGrid - Prod", "Mail"]))
        def rename(self, name: str) -> None:
            self.service.connections.rename(self.actor, self.id, name)

        @invariant()
        def status_matches_what_happened(self) -> None:
            connection = self.service.connections.get(self.actor, self.id)
            assert connection.id == self.id
            assert (connection.status == "active") == self.expect_active
            assert (connection.status_reason is None) == self.expect_active
            if not self.expect_active:
                assert connection.status_reason == "invalid_credentials"

        @invariant()
        def served_exactly_when_active(self) -> None:
            try:
                credentials = self.service.credentials.resolve(self.actor, self.id)
            except ConnectionInactive:
                assert not self.expect_active
            else:
                assert self.expect_active
                assert credentials.fields["api_key"] == GOOD_SENDGRID

    _run(ApiKeyConnection)


def test_an_oauth2_connection(settings: Settings, sandbox: Sandbox) -> None:
    """Refresh outcomes against the sandbox, with the service's clock in the machine's hands so
    a backoff after a transient failure can run out without waiting."""
    count = iter(range(1000))

    class OAuthConnection(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            sandbox.control("reset")
            sandbox.control("ttl", seconds=3600)
            home = settings.home.parent / f"oauth-machine-{next(count)}"
            url = (
                None
                if settings.resolved_database_url.startswith("sqlite")
                else settings.database_url
            )
            self.runtime: Runtime = open_runtime(
                settings.model_copy(update={"home": home, "database_url": url}),
                extra_apps=[sandbox.app],
            )
            self.service: Service = self.runtime.service
            self.now = datetime.now(UTC)
            self.service.context.clock = lambda: self.now
            self.actor = Actor.operator(
                self.service.system.create_project(f"oauth {next(count)}").id
            )
            self.service.oauth_clients.register(
                self.actor, app="sandbox", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
            )
            self.id = connect(self.service, self.actor, sandbox)
            self.expect: tuple[str, str | None] = ("active", None)
            self.revoked_at_provider = False
            self.backing_off = False
            self.token = self._token()

        def _token(self) -> Any:
            return self.service.credentials.resolve(self.actor, self.id).fields["access_token"]

        def _refresh(self) -> None:
            """A step's app got 401 with the token: ask for a fresh one."""
            try:
                fresh = self.service.credentials.resolve(
                    self.actor, self.id, stale_token=self.token
                )
            except ConnectionInactive as exc:
                assert self.expect[0] == "inactive" or (
                    self.revoked_at_provider and not self.backing_off
                )
                self.expect = ("inactive", str(exc.details.get("reason")))
                assert self.expect == ("inactive", "revoked")
            except ProviderUnavailable:
                assert self.expect[0] == "active"
                self.backing_off = True
            else:
                assert self.expect[0] == "active"
                if fresh.fields["access_token"] == self.token:
                    self.backing_off = True  # the provider failed; the old token was kept
                else:
                    assert not self.revoked_at_provider, "a revoked grant was refreshed"
                self.token = fresh.fields["access_token"]

        def teardown(self) -> None:
            sandbox.control("reset")
            self.runtime.close()

        @rule(status=st.sampled_from([500, 502, 503, 429]), count=st.integers(1, 3))
        def transient_faults(self, status: int, count: int) -> None:
            sandbox.control("fail", status=status, count=count)
            self._refresh()
            sandbox.control("reset")

        @rule()
        def refresh(self) -> None:
            self._refresh()

        @rule()
        def grant_revoked_at_the_provider(self) -> None:
            sandbox.control("revoke")
            self.revoked_at_provider = True

        @rule()
        def time_passes(self) -> None:
            self.now += timedelta(minutes=15)
            self.backing_off = False

        @rule()
        def reconnect(self) -> None:
            session = self.service.authorizations.start(self.actor, connection_id=self.id)
            outcome = self.service.system.complete_authorization(
                sandbox.consent(session.authorize_url or "")
            )
            assert outcome.status == "succeeded" and outcome.connection_id == self.id
            self.expect = ("active", None)
            self.revoked_at_provider = self.backing_off = False
            self.token = self._token()

        @invariant()
        def status_is_what_happened(self) -> None:
            connection = self.service.connections.get(self.actor, self.id)
            assert connection.id == self.id
            assert (connection.status, connection.status_reason) == self.expect

    _run(OAuthConnection)

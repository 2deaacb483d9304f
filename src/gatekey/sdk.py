"""The one SDK surface: what ``gatekey.Client`` (HTTP) and ``gatekey.Gatekey`` (embedded) offer.

Code written against ``SDK`` runs on either; a test holds both classes to these signatures
(names, parameters, defaults, annotations), and mypy holds them to the types. Results are the
models of ``gatekey.models`` (apps: ``gatekey.catalog.schema.App``) on both; errors are the
classes of ``gatekey.errors``, chosen by code on the HTTP side. ``skip_test`` is the one name for
storing credentials without asking the provider, as in the API body and ``--skip-test``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, Self

if TYPE_CHECKING:
    from gatekey.catalog.schema import App
    from gatekey.client import Client
    from gatekey.embedded import Gatekey
    from gatekey.models import (
        ApiKey,
        AppSummary,
        AuditEvent,
        AuditVerification,
        AuthorizationSession,
        Connection,
        ConnectionPage,
        ConnectionUsage,
        CreatedApiKey,
        CreatedWebhook,
        Credentials,
        Deleted,
        Diagnosis,
        Flow,
        OAuthClient,
        Run,
        TestResult,
        Webhook,
        WebhookDelivery,
    )


class SDK(Protocol):
    """The methods both SDKs implement, acting in one project with one identity."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def close(self) -> None: ...

    # -- apps --------------------------------------------------------------------------------

    def list_apps(self, search: str | None = None) -> list[AppSummary]: ...

    def get_app(self, key: str) -> App: ...

    def add_app(self, definition: dict[str, Any]) -> App:
        """Add an app definition (the catalog's schema) to the project."""
        ...

    def replace_app(self, key: str, definition: dict[str, Any]) -> App: ...

    def delete_app(self, key: str) -> None: ...

    # -- connections -------------------------------------------------------------------------

    def create_connection(
        self,
        app: str,
        name: str,
        fields: dict[str, Any] | None = None,
        *,
        config: dict[str, Any] | None = None,
        auth_kind: str | None = None,
        metadata: dict[str, Any] | None = None,
        is_default: bool | None = None,
        skip_test: bool = False,
    ) -> Connection:
        """Create a connection; the provider checks the credentials first unless ``skip_test``."""
        ...

    def list_connections(
        self,
        *,
        status: str | None = None,
        app: str | None = None,
        text: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> ConnectionPage: ...

    def get_connection(self, connection_id: str) -> Connection: ...

    def rename_connection(self, connection_id: str, name: str) -> Connection: ...

    def set_default(self, connection_id: str) -> Connection: ...

    def replace_credentials(
        self,
        connection_id: str,
        fields: dict[str, Any],
        *,
        config: dict[str, Any] | None = None,
        skip_test: bool = False,
    ) -> Connection: ...

    def delete_connection(self, connection_id: str, *, force: bool = False) -> Deleted: ...

    def connection_usage(self, connection_id: str) -> ConnectionUsage: ...

    def replace_connection(self, connection_id: str, replacement_id: str) -> int: ...

    def resolve_credentials(
        self,
        connection_id: str,
        *,
        stale_token: str | None = None,
        required_scopes: list[str] | None = None,
    ) -> Credentials:
        """Return fresh credentials; pass ``stale_token`` when the app refused it as expired.

        ``required_scopes`` the grant lacks fail with ``MissingScopes`` before any app call.
        """
        ...

    def test_connection(self, connection_id: str) -> TestResult: ...

    def diagnose_connection(
        self, connection_id: str, *, required_scopes: list[str] | None = None
    ) -> Diagnosis:
        """Whether the connection can serve a caller that needs ``required_scopes``: active or
        not and why, the granted scopes, the ones missing."""
        ...

    # -- audit -------------------------------------------------------------------------------

    def audit_trail(self, connection_id: str | None = None, limit: int = 100) -> list[AuditEvent]:
        """The newest entries about one connection, or about the whole project."""
        ...

    def project_audit(self, object_id: str | None = None, limit: int = 100) -> list[AuditEvent]: ...

    def verify_audit(self) -> AuditVerification: ...

    # -- flows and runs ----------------------------------------------------------------------

    def create_flow(self, name: str, definition: dict[str, Any], description: str = "") -> Flow: ...

    def list_flows(self, connection_id: str | None = None) -> list[Flow]: ...

    def get_flow(self, flow_id: str) -> Flow: ...

    def update_flow(self, flow_id: str, **changes: Any) -> Flow:
        """Change ``name``, ``definition`` or ``description``."""
        ...

    def delete_flow(self, flow_id: str) -> None: ...

    def trigger_run(self, flow_id: str, run_input: dict[str, Any] | None = None) -> Run: ...

    def get_run(self, run_id: str) -> Run: ...

    def list_runs(self, **filters: Any) -> list[Run]:
        """Filters: ``flow``, ``status``, ``connection``, ``limit``."""
        ...

    def retry_run(self, run_id: str) -> Run: ...

    # -- webhooks ----------------------------------------------------------------------------

    def add_webhook(
        self, url: str, events: list[str] | None = None, description: str = ""
    ) -> CreatedWebhook: ...

    def list_webhooks(self) -> list[Webhook]: ...

    def delete_webhook(self, webhook_id: str) -> None: ...

    def webhook_deliveries(self, webhook_id: str, limit: int = 50) -> list[WebhookDelivery]: ...

    def ping_webhook(self, webhook_id: str) -> None: ...

    # -- API keys ----------------------------------------------------------------------------

    def create_api_key(self, name: str, role: str = "runtime") -> CreatedApiKey: ...

    def list_api_keys(self) -> list[ApiKey]: ...

    def revoke_api_key(self, key_id: str) -> None: ...

    # -- OAuth2 ------------------------------------------------------------------------------

    def register_oauth_client(
        self, app: str, client_id: str, client_secret: str, scopes: list[str] | None = None
    ) -> OAuthClient: ...

    def list_oauth_clients(self) -> list[OAuthClient]: ...

    def update_oauth_client(self, oauth_client_id: str, **changes: Any) -> OAuthClient:
        """Change ``client_id``, ``client_secret`` or ``scopes`` (None restores the defaults)."""
        ...

    def delete_oauth_client(self, oauth_client_id: str) -> None: ...

    def start_authorization(
        self,
        app: str | None = None,
        *,
        name: str | None = None,
        connection_id: str | None = None,
        scopes: list[str] | None = None,
        config: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        is_default: bool | None = None,
    ) -> AuthorizationSession:
        """Start connecting (or reconnecting ``connection_id``); open ``authorize_url``."""
        ...

    def authorization_status(self, session_id: str) -> AuthorizationSession: ...

    def wait_for_authorization(
        self, session_id: str, *, timeout: float = 600.0, interval: float = 1.0
    ) -> AuthorizationSession:
        """Poll the session until it succeeds or fails (or ``timeout`` passes)."""
        ...


def wait_for_authorization(
    status: Callable[[str], AuthorizationSession],
    session_id: str,
    *,
    timeout: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> AuthorizationSession:
    """Poll ``status`` until the session is no longer pending or ``timeout`` has passed.

    Both SDKs poll the same way; the clock and the sleep are passed in for tests.
    """
    deadline = clock() + timeout
    while True:
        session = status(session_id)
        if session.status != "pending" or clock() >= deadline:
            return session
        sleep(interval)


if TYPE_CHECKING:  # mypy holds both SDKs to the Protocol

    def _http(client: Client) -> SDK:
        return client

    def _embedded(gatekey: Gatekey) -> SDK:
        return gatekey


__all__ = ["SDK", "wait_for_authorization"]

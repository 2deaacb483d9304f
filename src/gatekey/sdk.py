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
    """The methods both SDKs implement, acting in one project with one identity.

    ``Client`` and ``Gatekey`` subclass it, so each method's documentation is written once,
    here (``help()`` and editors show it on both); a method that behaves differently in one
    SDK says so in its own docstring. Every method raises the ``gatekey.errors`` class of
    what went wrong: ``NotFound`` for an id of no object in the project, ``InvalidInput``
    (and its subclasses) for input refused before anything is written.
    """

    def __enter__(self) -> Self:
        """Use the SDK in a ``with`` block; leaving it calls ``close()``."""
        ...

    def __exit__(self, *exc: object) -> None:
        """Close the SDK (see ``close``)."""
        ...

    def close(self) -> None:
        """Release what the SDK holds: its HTTP connections, or the embedded database pool and
        background audit writer (pending audit entries are written first)."""
        ...

    # -- apps --------------------------------------------------------------------------------

    def list_apps(
        self,
        search: str | None = None,
        *,
        category: str | None = None,
        auth_kind: str | None = None,
    ) -> list[AppSummary]:
        """List the apps a connection can be made to (the catalog and the project's own), by
        name: those whose key, name, description or category contains ``search`` (any case),
        filed under ``category`` (one of ``gatekey.catalog.categories.CATEGORIES``) and
        offering ``auth_kind`` (an ``AuthKind``), each if given; an unknown category or auth
        kind is ``InvalidInput``."""
        ...

    def get_app(self, key: str) -> App:
        """Return an app's definition: its auth kinds, fields, test request and OAuth2 setup."""
        ...

    def add_app(self, definition: dict[str, Any]) -> App:
        """Add an app definition (the catalog's schema) to the project."""
        ...

    def replace_app(self, key: str, definition: dict[str, Any]) -> App:
        """Replace one of the project's own apps with a new definition of the same key."""
        ...

    def delete_app(self, key: str) -> None:
        """Delete one of the project's own apps; ``AppInUse`` while connections or flows use it."""
        ...

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
        scopes: list[str] | None = None,
    ) -> Connection:
        """Create a connection; the provider checks the credentials first unless ``skip_test``.

        ``fields`` are the app's credential fields (secret, stored encrypted), ``config`` its
        non-secret settings, ``auth_kind`` one of the app's kinds (default: its first). The
        first connection of an app becomes its default unless ``is_default`` says otherwise.
        A refused check raises ``CredentialsRejected`` and stores nothing. ``scopes`` replace
        the method's default scopes for kinds that ask for some as they obtain a token (a
        service account, client credentials).
        """
        ...

    def list_connections(
        self,
        *,
        status: str | None = None,
        app: str | None = None,
        text: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> ConnectionPage:
        """List connections in creation order (never a secret), filtered by ``status``
        (``active`` or ``inactive``), ``app`` and ``text`` (in the name, account or app key, or
        the id); pass the page's ``next_cursor`` as ``cursor`` for the next page."""
        ...

    def get_connection(self, connection_id: str) -> Connection:
        """Return a connection (its secrets masked)."""
        ...

    def rename_connection(self, connection_id: str, name: str) -> Connection:
        """Rename a connection; ``DuplicateName`` if the project has one of that name already."""
        ...

    def set_default(self, connection_id: str) -> Connection:
        """Make this connection the one flows get when they name the app's default."""
        ...

    def replace_credentials(
        self,
        connection_id: str,
        fields: dict[str, Any],
        *,
        config: dict[str, Any] | None = None,
        skip_test: bool = False,
    ) -> Connection:
        """Replace a connection's credential fields (and ``config`` if given), checked with the
        provider first unless ``skip_test``; the id, name and flows stay as they were."""
        ...

    def delete_connection(self, connection_id: str, *, force: bool = False) -> Deleted:
        """Delete a connection (an OAuth2 grant is revoked at the provider where it can be).

        ``ConnectionInUse`` while flows use it, unless ``force``.
        """
        ...

    def connection_usage(self, connection_id: str) -> ConnectionUsage:
        """Which flows, and which of their steps, use the connection."""
        ...

    def replace_connection(self, connection_id: str, replacement_id: str) -> int:
        """Point every flow step that uses this connection at another one of the same app;
        return how many steps moved."""
        ...

    def resolve_credentials(
        self,
        connection_id: str,
        *,
        stale_token: str | None = None,
        required_scopes: list[str] | None = None,
    ) -> Credentials:
        """Return fresh credentials; pass ``stale_token`` when the app refused it as expired
        (a status of ``expired_token_status``, or a body ``expired_when`` holds for).

        ``required_scopes`` the grant lacks fail with ``MissingScopes`` before any app call.
        A 2xx answer whose body fails ``ok_when`` is a failure (the app's words are at
        ``error_paths``); of ``headers``, only ``overridable_headers`` may be replaced.
        The result holds secrets: hand it to the code that calls the app, never to a log.
        """
        ...

    def test_connection(self, connection_id: str) -> TestResult:
        """Ask the provider whether the stored credentials work (the app's test request); a
        refusal marks the connection inactive with the reason."""
        ...

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

    def project_audit(self, object_id: str | None = None, limit: int = 100) -> list[AuditEvent]:
        """The newest entries of the project's audit trail, about ``object_id`` if given (any
        object: a connection, a flow, a key...)."""
        ...

    def verify_audit(self) -> AuditVerification:
        """Check the project's hash-chained audit trail and say where, if anywhere, it breaks."""
        ...

    # -- flows and runs ----------------------------------------------------------------------

    def create_flow(self, name: str, definition: dict[str, Any], description: str = "") -> Flow:
        """Create a flow: ``definition`` is ``{"steps": [...]}``, each step naming its app and
        a connection (an id, or ``"default"``); ``InvalidFields`` lists what is wrong."""
        ...

    def list_flows(self, connection_id: str | None = None) -> list[Flow]:
        """List the project's flows, those using ``connection_id`` if given."""
        ...

    def get_flow(self, flow_id: str) -> Flow:
        """Return a flow and its definition."""
        ...

    def update_flow(self, flow_id: str, **changes: Any) -> Flow:
        """Change ``name``, ``definition`` or ``description``."""
        ...

    def delete_flow(self, flow_id: str) -> None:
        """Delete a flow; the connections its steps used stay as they are."""
        ...

    def trigger_run(self, flow_id: str, run_input: dict[str, Any] | None = None) -> Run:
        """Queue a run of the flow with ``run_input``; a worker executes it (poll ``get_run``)."""
        ...

    def get_run(self, run_id: str) -> Run:
        """Return a run with its steps' status and outputs (secret values masked)."""
        ...

    def list_runs(self, **filters: Any) -> list[Run]:
        """Filters: ``flow``, ``status``, ``connection``, ``limit``."""
        ...

    def retry_run(self, run_id: str) -> Run:
        """Queue a failed run again with its original input."""
        ...

    # -- webhooks ----------------------------------------------------------------------------

    def add_webhook(
        self, url: str, events: list[str] | None = None, description: str = ""
    ) -> CreatedWebhook:
        """Send connection status events (all, or ``events``) to ``url``, signed; the signing
        ``secret`` is in this result only."""
        ...

    def list_webhooks(self) -> list[Webhook]:
        """List the project's webhook endpoints (without their secrets)."""
        ...

    def delete_webhook(self, webhook_id: str) -> None:
        """Stop sending events to this endpoint."""
        ...

    def webhook_deliveries(self, webhook_id: str, limit: int = 50) -> list[WebhookDelivery]:
        """The newest deliveries to the endpoint: status, attempts, the last error."""
        ...

    def ping_webhook(self, webhook_id: str) -> None:
        """Queue a ``webhook.ping`` event to this endpoint only, to check that it receives."""
        ...

    # -- API keys ----------------------------------------------------------------------------

    def create_api_key(self, name: str, role: str = "runtime") -> CreatedApiKey:
        """Create an API key of ``role`` (``runtime`` reads metadata and uses credentials,
        ``admin`` manages the project too); its ``token`` is in this result only."""
        ...

    def list_api_keys(self) -> list[ApiKey]:
        """List the project's API keys (never a token)."""
        ...

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke an API key; requests with it are refused from then on."""
        ...

    # -- OAuth2 ------------------------------------------------------------------------------

    def register_oauth_client(
        self, app: str, client_id: str, client_secret: str, scopes: list[str] | None = None
    ) -> OAuthClient:
        """Register the OAuth client (from the provider's developer console) that connections
        to ``app`` authorize through; ``scopes`` replace the app's default scopes."""
        ...

    def list_oauth_clients(self) -> list[OAuthClient]:
        """List the project's OAuth clients (never a client secret)."""
        ...

    def update_oauth_client(self, oauth_client_id: str, **changes: Any) -> OAuthClient:
        """Change ``client_id``, ``client_secret`` or ``scopes`` (None restores the defaults)."""
        ...

    def delete_oauth_client(self, oauth_client_id: str) -> None:
        """Delete an OAuth client; ``Conflict`` while connections use it."""
        ...

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
        allow_account_switch: bool = False,
    ) -> AuthorizationSession:
        """Start connecting (or reconnecting ``connection_id``); open ``authorize_url``.

        A reconnect must come back as the connection's account (``AccountMismatch``
        otherwise) unless ``allow_account_switch``; a switch is audited."""
        ...

    def authorization_status(self, session_id: str) -> AuthorizationSession:
        """Return the session: ``pending``, ``succeeded`` (with ``connection_id``) or
        ``failed`` (with ``error_code``)."""
        ...

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

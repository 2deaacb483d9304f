"""Gatekey in your own process: the service without a server (``gatekey.Gatekey``).

It implements the ``gatekey.sdk.SDK`` surface, as ``gatekey.Client`` does over HTTP.

Where the master key goes: a SQLite database the caller names (``sqlite:///app.db``) keeps its
key file beside it, ``app.db.key`` (mode 0600), so that the two travel together; copying
``app.db`` without it leaves data nothing can decrypt. One file per database, rather than a
shared ``.gatekey/`` folder, so that rotating or retiring one database's keys never strands
another's, and the folder the database is in keeps its mode. What the caller chose wins:
``master_keys`` (or ``GATEKEY_MASTER_KEYS``), ``GATEKEY_MASTER_KEY_PATH``, or a ``home`` (or
``GATEKEY_HOME``), whose ``master.key`` it is then; so does a database made before keys were
kept beside it, which goes on with ``<home>/master.key``. An existing key file is never
replaced. Creating one is logged once, as a warning naming the file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Self

import httpx2

from gatekey import sdk
from gatekey.catalog.schema import App
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
from gatekey.runtime import Runtime, open_runtime, run_worker, sqlite_path
from gatekey.service import Actor
from gatekey.settings import Settings

log = logging.getLogger(__name__)
KEY_SUFFIX = ".key"
"""The key file beside a SQLite database: ``app.db`` -> ``app.db.key``."""


class Gatekey(sdk.SDK):
    """Embedded Gatekey acting as the operator of one project (``default`` unless told).

    ``Gatekey("sqlite:///app.db")`` migrates the database (creating it if need be) and loads
    the master keys just as ``gatekey serve`` does, from ``app.db.key`` beside it (created on
    first use, and logged; see the module docstring for what overrides that). With no
    ``database_url`` it opens ``GATEKEY_DATABASE_URL``, or ``<home>/gatekey.db`` with
    ``<home>/master.key``. ``transport`` replaces the outbound HTTP transport (tests).

    The methods match those of ``gatekey.Client`` (``gatekey.sdk.SDK``), plus ``run_queued``
    since no server runs the queue.
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        home: str | Path | None = None,
        master_keys: str | None = None,
        project: str = "default",
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        overrides: dict[str, Any] = {}
        if database_url is not None:
            overrides["database_url"] = database_url
        if home is not None:
            overrides["home"] = Path(home)
        if master_keys is not None:
            overrides["master_keys"] = master_keys
        settings = key_beside_database(Settings(**overrides))
        self.runtime: Runtime = open_runtime(settings, transport=transport)
        if self.runtime.key_file_created:
            database = sqlite_path(settings.resolved_database_url)  # no URL: it may hold a password
            log.warning(
                "Created master key file %s (mode 0600)%s; keep it with the database and back "
                "it up: without it nothing stored can be decrypted",
                settings.master_key_file,
                f" for the database {database.absolute()}" if database else "",
            )
        self.service = self.runtime.service
        self.service.system.bootstrap()
        self.actor = Actor.operator(self.service.system.find_project(project).id)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.runtime.close()

    def list_apps(
        self,
        search: str | None = None,
        *,
        category: str | None = None,
        auth_kind: str | None = None,
    ) -> list[AppSummary]:
        return self.service.apps.list(self.actor, search, category=category, auth_kind=auth_kind)

    def get_app(self, key: str) -> App:
        return self.service.apps.get(self.actor, key)

    def add_app(self, definition: dict[str, Any]) -> App:
        return self.service.apps.add(self.actor, definition)

    def replace_app(self, key: str, definition: dict[str, Any]) -> App:
        return self.service.apps.replace(self.actor, key, definition)

    def delete_app(self, key: str) -> None:
        self.service.apps.delete(self.actor, key)

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
        return self.service.connections.create(
            self.actor,
            app=app,
            name=name,
            fields=fields,
            config=config,
            auth_kind=auth_kind,
            metadata=metadata,
            is_default=is_default,
            validate=not skip_test,
            scopes=scopes,
        )

    def list_connections(
        self,
        *,
        status: str | None = None,
        app: str | None = None,
        text: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> ConnectionPage:
        return self.service.connections.list(
            self.actor, status=status, app=app, text=text, cursor=cursor, limit=limit
        )

    def get_connection(self, connection_id: str) -> Connection:
        return self.service.connections.get(self.actor, connection_id)

    def rename_connection(self, connection_id: str, name: str) -> Connection:
        return self.service.connections.rename(self.actor, connection_id, name)

    def set_default(self, connection_id: str) -> Connection:
        return self.service.connections.set_default(self.actor, connection_id)

    def replace_credentials(
        self,
        connection_id: str,
        fields: dict[str, Any],
        *,
        config: dict[str, Any] | None = None,
        skip_test: bool = False,
    ) -> Connection:
        return self.service.connections.replace_credentials(
            self.actor, connection_id, fields=fields, config=config, validate=not skip_test
        )

    def delete_connection(self, connection_id: str, *, force: bool = False) -> Deleted:
        return self.service.connections.delete(self.actor, connection_id, force=force)

    def connection_usage(self, connection_id: str) -> ConnectionUsage:
        return self.service.flows.usage(self.actor, connection_id)

    def create_flow(self, name: str, definition: dict[str, Any], description: str = "") -> Flow:
        return self.service.flows.create(
            self.actor, name=name, definition=definition, description=description
        )

    def list_flows(self, connection_id: str | None = None) -> list[Flow]:
        return self.service.flows.list(self.actor, connection_id=connection_id)

    def get_flow(self, flow_id: str) -> Flow:
        return self.service.flows.get(self.actor, flow_id)

    def update_flow(self, flow_id: str, **changes: Any) -> Flow:
        return self.service.flows.update(self.actor, flow_id, **changes)

    def delete_flow(self, flow_id: str) -> None:
        self.service.flows.delete(self.actor, flow_id)

    def resolve_credentials(
        self,
        connection_id: str,
        *,
        stale_token: str | None = None,
        required_scopes: list[str] | None = None,
    ) -> Credentials:
        return self.service.credentials.resolve(
            self.actor,
            connection_id,
            stale_token=stale_token,
            required_scopes=required_scopes or (),
        )

    def register_oauth_client(
        self, app: str, client_id: str, client_secret: str, scopes: list[str] | None = None
    ) -> OAuthClient:
        return self.service.oauth_clients.register(
            self.actor, app=app, client_id=client_id, client_secret=client_secret, scopes=scopes
        )

    def list_oauth_clients(self) -> list[OAuthClient]:
        return self.service.oauth_clients.list(self.actor)

    def update_oauth_client(self, oauth_client_id: str, **changes: Any) -> OAuthClient:
        if "scopes" in changes and changes["scopes"] is None:
            changes = {**changes, "clear_scopes": True}
        return self.service.oauth_clients.update(self.actor, oauth_client_id, **changes)

    def delete_oauth_client(self, oauth_client_id: str) -> None:
        self.service.oauth_clients.delete(self.actor, oauth_client_id)

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
        return self.service.authorizations.start(
            self.actor,
            app=app,
            name=name,
            connection_id=connection_id,
            scopes=scopes,
            config=config,
            metadata=metadata,
            is_default=is_default,
            allow_account_switch=allow_account_switch,
        )

    def authorization_status(self, session_id: str) -> AuthorizationSession:
        return self.service.authorizations.status(self.actor, session_id)

    def wait_for_authorization(
        self, session_id: str, *, timeout: float = 600.0, interval: float = 1.0
    ) -> AuthorizationSession:
        """Poll the session until it succeeds or fails (or ``timeout`` passes).

        This process serves no callback: ``gatekey serve`` on the same database completes it.
        """
        return sdk.wait_for_authorization(
            self.authorization_status, session_id, timeout=timeout, interval=interval
        )

    def test_connection(self, connection_id: str) -> TestResult:
        return self.service.connections.test(self.actor, connection_id)

    def diagnose_connection(
        self, connection_id: str, *, required_scopes: list[str] | None = None
    ) -> Diagnosis:
        return self.service.connections.diagnose(self.actor, connection_id, required_scopes or ())

    def audit_trail(self, connection_id: str | None = None, limit: int = 100) -> list[AuditEvent]:
        return self.service.connections.audit_trail(self.actor, connection_id, limit)

    def project_audit(self, object_id: str | None = None, limit: int = 100) -> list[AuditEvent]:
        return self.service.audit.events(self.actor, object_id=object_id, limit=limit)

    def add_webhook(
        self, url: str, events: list[str] | None = None, description: str = ""
    ) -> CreatedWebhook:
        return self.service.webhooks.add(
            self.actor, url=url, events=events, description=description
        )

    def list_webhooks(self) -> list[Webhook]:
        return self.service.webhooks.list(self.actor)

    def delete_webhook(self, webhook_id: str) -> None:
        self.service.webhooks.delete(self.actor, webhook_id)

    def webhook_deliveries(self, webhook_id: str, limit: int = 50) -> list[WebhookDelivery]:
        return self.service.webhooks.deliveries(self.actor, webhook_id, limit)

    def ping_webhook(self, webhook_id: str) -> None:
        self.service.webhooks.ping(self.actor, webhook_id)

    def verify_audit(self) -> AuditVerification:
        return self.service.audit.verify(self.actor)

    def create_api_key(self, name: str, role: str = "runtime") -> CreatedApiKey:
        return self.service.access.create_key(self.actor, name=name, role=role)

    def list_api_keys(self) -> list[ApiKey]:
        return self.service.access.list_keys(self.actor)

    def revoke_api_key(self, key_id: str) -> None:
        self.service.access.revoke_key(self.actor, key_id)

    def trigger_run(self, flow_id: str, run_input: dict[str, Any] | None = None) -> Run:
        return self.service.runs.trigger(self.actor, flow_id, run_input or {})

    def get_run(self, run_id: str) -> Run:
        return self.service.runs.get(self.actor, run_id)

    def list_runs(self, **filters: Any) -> list[Run]:
        return self.service.runs.list(
            self.actor,
            flow_id=filters.get("flow"),
            status=filters.get("status"),
            connection_id=filters.get("connection"),
            limit=filters.get("limit", 50),
        )

    def retry_run(self, run_id: str) -> Run:
        return self.service.runs.retry(self.actor, run_id)

    def replace_connection(self, connection_id: str, replacement_id: str) -> int:
        return self.service.flows.replace_connection(self.actor, connection_id, replacement_id)

    def run_queued(self) -> int:
        """Execute every queued run in this process (embedded mode has no server)."""
        return run_worker(self.runtime).drain()


def key_beside_database(settings: Settings) -> Settings:
    """``settings`` with the master key file beside the SQLite database it names, unless the
    caller chose where keys come from or the database predates keys kept beside it."""
    chosen = {"home", "master_keys", "master_key_path"} & settings.model_fields_set
    database = sqlite_path(settings.resolved_database_url)
    if chosen or database is None or "database_url" not in settings.model_fields_set:
        return settings
    beside = database.absolute().with_name(database.name + KEY_SUFFIX)
    if not beside.exists() and database.exists() and settings.master_key_file.exists():
        return settings  # made before keys were kept beside it: its key is in the home
    return settings.model_copy(update={"master_key_path": beside})

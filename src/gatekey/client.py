"""The HTTP SDK: ``gatekey.Client(base_url, api_key)``, the ``gatekey.sdk.SDK`` surface.

Problem documents come back as the same exceptions the service raises, chosen by their code.
Importing it loads no server code (no SQLAlchemy, Alembic, FastAPI or Starlette).
"""

from __future__ import annotations

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
from gatekey.problem_documents import error_of


class Client(sdk.SDK):
    """A Gatekey server, reached over HTTP with an API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        self._http = httpx2.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "gatekey-python"},
            timeout=timeout,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"Client(base_url={str(self._http.base_url)!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            raise error_of(response.status_code, body)
        if response.status_code == 204:
            return None
        return response.json()

    def list_apps(
        self,
        search: str | None = None,
        *,
        category: str | None = None,
        auth_kind: str | None = None,
    ) -> list[AppSummary]:
        asked = {"q": search or None, "category": category, "auth_kind": auth_kind}
        params = {k: str(v) for k, v in asked.items() if v is not None}
        return [
            AppSummary.model_validate(a)
            for a in self._call("GET", "/api/v1/apps", params=params or None)
        ]

    def _app(self, method: str, path: str, **kwargs: Any) -> App:
        """The app document without ``source``, which the embedded SDK cannot tell either, and
        without the computed ``prepare`` of each auth method."""
        view = self._call(method, path, **kwargs)
        methods = [{k: v for k, v in m.items() if k != "prepare"} for m in view.get("auth", [])]
        return App.model_validate(
            {**{k: v for k, v in view.items() if k != "source"}, "auth": methods}
        )

    def get_app(self, key: str) -> App:
        return self._app("GET", f"/api/v1/apps/{key}")

    def add_app(self, definition: dict[str, Any]) -> App:
        return self._app("POST", "/api/v1/apps", json=definition)

    def replace_app(self, key: str, definition: dict[str, Any]) -> App:
        return self._app("PUT", f"/api/v1/apps/{key}", json=definition)

    def delete_app(self, key: str) -> None:
        self._call("DELETE", f"/api/v1/apps/{key}")

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
        body = {
            "app": app,
            "name": name,
            "fields": fields or {},
            "config": config or {},
            "metadata": metadata or {},
            "auth_kind": auth_kind,
            "is_default": is_default,
            "skip_test": skip_test,
            "scopes": scopes,
        }
        return Connection.model_validate(self._call("POST", "/api/v1/connections", json=body))

    def list_connections(
        self,
        *,
        status: str | None = None,
        app: str | None = None,
        text: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> ConnectionPage:
        params = {
            k: v
            for k, v in {
                "status": status,
                "app": app,
                "q": text,
                "cursor": cursor,
                "limit": limit,
            }.items()
            if v is not None
        }
        return ConnectionPage.model_validate(
            self._call("GET", "/api/v1/connections", params=params)
        )

    def get_connection(self, connection_id: str) -> Connection:
        return Connection.model_validate(self._call("GET", f"/api/v1/connections/{connection_id}"))

    def _patch(self, connection_id: str, body: dict[str, Any]) -> Connection:
        return Connection.model_validate(
            self._call("PATCH", f"/api/v1/connections/{connection_id}", json=body)
        )

    def rename_connection(self, connection_id: str, name: str) -> Connection:
        return self._patch(connection_id, {"name": name})

    def set_default(self, connection_id: str) -> Connection:
        return self._patch(connection_id, {"is_default": True})

    def replace_credentials(
        self,
        connection_id: str,
        fields: dict[str, Any],
        *,
        config: dict[str, Any] | None = None,
        skip_test: bool = False,
    ) -> Connection:
        return self._patch(
            connection_id, {"fields": fields, "config": config, "skip_test": skip_test}
        )

    def delete_connection(self, connection_id: str, *, force: bool = False) -> Deleted:
        params = {"force": "true"} if force else None
        return Deleted.model_validate(
            self._call("DELETE", f"/api/v1/connections/{connection_id}", params=params)
        )

    def connection_usage(self, connection_id: str) -> ConnectionUsage:
        return ConnectionUsage.model_validate(
            self._call("GET", f"/api/v1/connections/{connection_id}/usage")
        )

    def create_flow(self, name: str, definition: dict[str, Any], description: str = "") -> Flow:
        body = {"name": name, "definition": definition, "description": description}
        return Flow.model_validate(self._call("POST", "/api/v1/flows", json=body))

    def list_flows(self, connection_id: str | None = None) -> list[Flow]:
        params = {"connection": connection_id} if connection_id else None
        return [Flow.model_validate(f) for f in self._call("GET", "/api/v1/flows", params=params)]

    def get_flow(self, flow_id: str) -> Flow:
        return Flow.model_validate(self._call("GET", f"/api/v1/flows/{flow_id}"))

    def update_flow(self, flow_id: str, **changes: Any) -> Flow:
        return Flow.model_validate(self._call("PATCH", f"/api/v1/flows/{flow_id}", json=changes))

    def delete_flow(self, flow_id: str) -> None:
        self._call("DELETE", f"/api/v1/flows/{flow_id}")

    def resolve_credentials(
        self,
        connection_id: str,
        *,
        stale_token: str | None = None,
        required_scopes: list[str] | None = None,
    ) -> Credentials:
        body: dict[str, Any] = {}
        if stale_token:
            body["stale_token"] = stale_token
        if required_scopes:
            body["required_scopes"] = list(required_scopes)
        return Credentials.model_validate(
            self._call(
                "POST", f"/api/v1/connections/{connection_id}/credentials", json=body or None
            )
        )

    def test_connection(self, connection_id: str) -> TestResult:
        return TestResult.model_validate(
            self._call("POST", f"/api/v1/connections/{connection_id}/test")
        )

    def diagnose_connection(
        self, connection_id: str, *, required_scopes: list[str] | None = None
    ) -> Diagnosis:
        params = {"scopes": list(required_scopes)} if required_scopes else None
        return Diagnosis.model_validate(
            self._call("GET", f"/api/v1/connections/{connection_id}/diagnosis", params=params)
        )

    def audit_trail(self, connection_id: str | None = None, limit: int = 100) -> list[AuditEvent]:
        if connection_id is None:
            return self.project_audit(limit=limit)
        events = self._call(
            "GET", f"/api/v1/connections/{connection_id}/audit", params={"limit": limit}
        )
        return [AuditEvent.model_validate(e) for e in events]

    def project_audit(self, object_id: str | None = None, limit: int = 100) -> list[AuditEvent]:
        params: dict[str, Any] = {"limit": limit}
        if object_id is not None:
            params["object"] = object_id
        events = self._call("GET", "/api/v1/audit", params=params)
        return [AuditEvent.model_validate(e) for e in events]

    def add_webhook(
        self, url: str, events: list[str] | None = None, description: str = ""
    ) -> CreatedWebhook:
        body = {"url": url, "events": events, "description": description}
        return CreatedWebhook.model_validate(self._call("POST", "/api/v1/webhooks", json=body))

    def list_webhooks(self) -> list[Webhook]:
        return [Webhook.model_validate(w) for w in self._call("GET", "/api/v1/webhooks")]

    def delete_webhook(self, webhook_id: str) -> None:
        self._call("DELETE", f"/api/v1/webhooks/{webhook_id}")

    def webhook_deliveries(self, webhook_id: str, limit: int = 50) -> list[WebhookDelivery]:
        found = self._call(
            "GET", f"/api/v1/webhooks/{webhook_id}/deliveries", params={"limit": limit}
        )
        return [WebhookDelivery.model_validate(d) for d in found]

    def ping_webhook(self, webhook_id: str) -> None:
        self._call("POST", f"/api/v1/webhooks/{webhook_id}/ping")

    def verify_audit(self) -> AuditVerification:
        return AuditVerification.model_validate(self._call("GET", "/api/v1/audit/verify"))

    def create_api_key(self, name: str, role: str = "runtime") -> CreatedApiKey:
        body = {"name": name, "role": role}
        return CreatedApiKey.model_validate(self._call("POST", "/api/v1/api-keys", json=body))

    def list_api_keys(self) -> list[ApiKey]:
        return [ApiKey.model_validate(k) for k in self._call("GET", "/api/v1/api-keys")]

    def revoke_api_key(self, key_id: str) -> None:
        self._call("DELETE", f"/api/v1/api-keys/{key_id}")

    # -- OAuth2 ------------------------------------------------------------------------------

    def register_oauth_client(
        self, app: str, client_id: str, client_secret: str, scopes: list[str] | None = None
    ) -> OAuthClient:
        body: dict[str, Any] = {"app": app, "client_id": client_id, "client_secret": client_secret}
        if scopes is not None:
            body["scopes"] = scopes
        return OAuthClient.model_validate(self._call("POST", "/api/v1/oauth-clients", json=body))

    def list_oauth_clients(self) -> list[OAuthClient]:
        return [OAuthClient.model_validate(c) for c in self._call("GET", "/api/v1/oauth-clients")]

    def update_oauth_client(self, oauth_client_id: str, **changes: Any) -> OAuthClient:
        return OAuthClient.model_validate(
            self._call("PATCH", f"/api/v1/oauth-clients/{oauth_client_id}", json=changes)
        )

    def delete_oauth_client(self, oauth_client_id: str) -> None:
        self._call("DELETE", f"/api/v1/oauth-clients/{oauth_client_id}")

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
        body = {
            "app": app,
            "name": name,
            "connection_id": connection_id,
            "scopes": scopes,
            "config": config,
            "metadata": metadata,
            "is_default": is_default,
            "allow_account_switch": allow_account_switch,
        }
        return AuthorizationSession.model_validate(
            self._call(
                "POST",
                "/api/v1/oauth/sessions",
                json={k: v for k, v in body.items() if v is not None},
            )
        )

    def authorization_status(self, session_id: str) -> AuthorizationSession:
        return AuthorizationSession.model_validate(
            self._call("GET", f"/api/v1/oauth/sessions/{session_id}")
        )

    def wait_for_authorization(
        self, session_id: str, *, timeout: float = 600.0, interval: float = 1.0
    ) -> AuthorizationSession:
        return sdk.wait_for_authorization(
            self.authorization_status, session_id, timeout=timeout, interval=interval
        )

    # -- runs --------------------------------------------------------------------------------

    def trigger_run(self, flow_id: str, run_input: dict[str, Any] | None = None) -> Run:
        return Run.model_validate(
            self._call("POST", f"/api/v1/flows/{flow_id}/runs", json=run_input or {})
        )

    def get_run(self, run_id: str) -> Run:
        return Run.model_validate(self._call("GET", f"/api/v1/runs/{run_id}"))

    def list_runs(self, **filters: Any) -> list[Run]:
        params = {k: v for k, v in filters.items() if v is not None}
        return [Run.model_validate(r) for r in self._call("GET", "/api/v1/runs", params=params)]

    def retry_run(self, run_id: str) -> Run:
        return Run.model_validate(self._call("POST", f"/api/v1/runs/{run_id}/retry"))

    def replace_connection(self, connection_id: str, replacement_id: str) -> int:
        result = self._call(
            "POST",
            f"/api/v1/connections/{connection_id}/replace",
            json={"replacement": replacement_id},
        )
        return int(result["moved"])

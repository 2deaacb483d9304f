"""What the templates show: labels for auth kinds and status reasons, and the card view-model."""

from __future__ import annotations

from typing import Any

from gatekey.catalog.schema import AuthKind
from gatekey.models import Connection
from gatekey.service import Service
from gatekey.web.render import render

KIND_LABELS = {
    "oauth2": "OAuth2",
    "oauth2_client_credentials": "OAuth2 client credentials",
    "api_key": "API key",
    "basic": "Basic auth",
    "custom": "Custom",
    "none": "No auth",
}
REASONS = {
    "authorization_pending": "Authorization pending",
    "revoked": "Access revoked",
    "refresh_failed": "Token refresh failed",
    "invalid_credentials": "Credentials rejected",
    "missing_scopes": "Missing permissions",
    "decryption_failed": "Cannot be decrypted",
}


def card(
    service: Service, connection: Connection, names: dict[str, str] | None = None
) -> dict[str, Any]:
    """The card of ``connection``; ``names`` (app key -> display name) saves a catalog look-up
    per card when a page shows many."""
    if names is None:
        app = service.context.registry.find(connection.project_id, connection.app)
        names = {app.key: app.name} if app else {}
    return {
        "c": connection,
        "app_name": names.get(connection.app, connection.app),
        "kind": KIND_LABELS.get(connection.auth_kind, connection.auth_kind),
        "reason": REASONS.get(connection.status_reason or "", connection.status_reason or ""),
        "oauth": connection.auth_kind == AuthKind.OAUTH2.value,
    }


def card_html(service: Service, connection: Connection) -> str:
    """One card as HTML, for the page's script to put in place of the old one."""
    return render("_card.html", card=card(service, connection))

"""What the templates show: labels for auth kinds, status reasons and who acted, and the card
view-model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gatekey.catalog.schema import AuthKind, AuthMethod
from gatekey.models import Connection, Run, RunStep
from gatekey.service import Service
from gatekey.web.render import render

KIND_LABELS = {
    "oauth2": "OAuth2",
    "oauth2_client_credentials": "OAuth2 client credentials",
    "api_key": "API key",
    "basic": "Basic auth",
    "custom": "Custom",
    "none": "No auth",
    "github_app": "GitHub App",
    "oauth1": "OAuth 1.0a",
    "jwt_bearer": "Service account (JWT bearer)",
    "signed_jwt": "Signed JWT",
    "aws_sigv4": "AWS signature",
    "two_step": "Log in, then token",
}


def way_of(method: AuthMethod) -> str:
    """How a method connects, in the words of the New connection form's choice."""
    return method.label or KIND_LABELS.get(method.kind.value, method.kind.value)


REASONS = {
    "authorization_pending": "Authorization pending",
    "revoked": "Access revoked",
    "refresh_failed": "Token refresh failed",
    "invalid_credentials": "Credentials rejected",
    "missing_scopes": "Missing permissions",
    "decryption_failed": "Cannot be decrypted",
}

ACTORS = {
    "operator": "operator",
    "signin-link": "admin (signed in by link)",
}
"""Who acted, for the audit actors that are not an API key, a run or a flow's webhook."""


@dataclass(frozen=True)
class Who:
    """Who acted in an audit entry, as a person reads it, and where to see more."""

    label: str
    kind: str = ""
    href: str | None = None


def who(actor: str, key_names: Mapping[str, str]) -> Who:
    """Name the actor of an audit entry: an API key by its name, a run by its ID (a link),
    the operator and sign-in links by what they are; never a bare key ID."""
    if actor in key_names:
        return Who(key_names[actor], "API key")
    if actor in ACTORS:
        return Who(ACTORS[actor])
    kind, _, ref = actor.partition(":")
    if kind == "run" and ref:
        return Who(ref, "run", f"/runs/{ref}")
    if kind == "webhook" and ref:
        return Who("flow webhook", "", f"/flows#flow-{ref}")
    return Who("an API key no longer listed" if kind.startswith("key_") else actor)


STEP_STATUSES = {
    "succeeded": ("Succeeded", "ok"),
    "failed": ("Failed", "bad"),
    "running": ("Running", ""),
    "pending": ("Pending", ""),
    "skipped": ("Skipped", ""),
}
"""How a run step's status reads, and its badge's style."""


def step_status(run: Run, step: RunStep) -> tuple[str, str]:
    """How a step's status reads: one that never ran in a run that ended is "Skipped"."""
    status: str = step.status
    if status == "pending" and run.status in ("succeeded", "failed"):
        status = "skipped"
    return STEP_STATUSES.get(status, (status.capitalize(), ""))


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
        # saved without asking the provider, and no check has passed since
        "unverified": connection.status == "active" and connection.verified_at is None,
        "oauth": _through_consent(service, connection),
    }


def _through_consent(service: Service, connection: Connection) -> bool:
    """Whether the connection is (re)connected through a consent screen, so its card offers
    Reconnect: OAuth2 and GitHub Apps always, OAuth 1.0a when its method is three-legged (a
    token-based one, NetSuite's, takes its keys as fields)."""
    kind = connection.auth_kind
    if kind != AuthKind.OAUTH1.value:
        return kind in (AuthKind.OAUTH2.value, AuthKind.GITHUB_APP.value)
    app = service.context.registry.find(connection.project_id, connection.app)
    try:
        return app is not None and app.method(kind).through_consent
    except LookupError:
        return False


def card_html(service: Service, connection: Connection) -> str:
    """One card as HTML, for the page's script to put in place of the old one."""
    return render("_card.html", card=card(service, connection))

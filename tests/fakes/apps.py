"""App definitions a project adds through the service, shared by the tests that add them."""

from __future__ import annotations

from typing import Any


def acme(**changes: Any) -> dict[str, Any]:
    """An API-key app on a host the fake providers answer for any accepted token."""
    definition: dict[str, Any] = {
        "key": "acme-crm",
        "name": "Acme CRM",
        "description": "The in-house CRM.",
        "categories": ["crm"],
        "docs_url": "https://docs.acme.test/api",
        "base_url": "https://api.acme.test",
        "auth": [
            {
                "kind": "api_key",
                "fields": {
                    "type": "object",
                    "required": ["api_key"],
                    "properties": {"api_key": {"title": "API key", "secret": True}},
                },
                "apply": [{"type": "bearer", "value": "{api_key}"}],
                "test_request": {"path": "/me", "account_label": ["email"]},
            }
        ],
    }
    definition.update(changes)
    return definition


def probe_app() -> dict[str, Any]:
    """The outside probe's app: a data centre derived by a catastrophic-backtracking pattern."""
    definition = acme()
    method = definition["auth"][0]
    method["derive"] = {"dc": {"source": "api_key", "pattern": r"^(a+)+(?P<value>x)$"}}
    method["apply"] = [
        {"type": "bearer", "value": "{api_key}"},
        {"type": "header", "name": "X-Acme-Dc", "value": "{dc}"},
    ]
    return definition


SUNSET = "2027-04-30"


def retiring(sunset: str | None = SUNSET, **changes: Any) -> dict[str, Any]:
    """A help desk shaped like Zendesk's entry: OAuth first, then an API token the provider
    is retiring (on ``sunset``) and deactivates when left unused for 30 days."""
    definition = acme(key="helpdesk", name="Helpdesk", categories=["support"])
    token = definition["auth"][0]
    token.update(
        label="API token",
        deprecated={
            "since": "2026-10-27",
            "sunset": sunset,
            "note": "API tokens are permanently deactivated on the sunset",
            "use_instead": "oauth2",
            "source": "https://docs.acme.test/oauth-migration",
        },
        idle_expiry_days=30,
    )
    oauth = {
        "kind": "oauth2",
        "oauth2": {
            "authorization_url": "https://acme.test/oauth/authorizations/new",
            "token_url": "https://acme.test/oauth/tokens",
        },
        "test_request": {"path": "/me", "account_label": ["email"]},
    }
    definition["auth"] = [oauth, token]
    definition.update(changes)
    return definition

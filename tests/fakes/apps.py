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


NOTION_KEY = "ntn_CANARYnotionSECRET0005"


def notion_like() -> dict[str, Any]:
    """An app shaped like Notion's API: a bearer key and a ``Notion-Version`` header a caller
    may override (https://developers.notion.com/reference/versioning: required on every
    request, named for the date of the version; 2026-03-11 is the latest as of Dec 2026)."""
    return {
        "key": "notion-test",
        "name": "Notion",
        "docs_url": "https://developers.notion.com/reference/versioning",
        "base_url": "https://api.notion.com/v1",
        "auth": [
            {
                "kind": "api_key",
                "fields": {
                    "type": "object",
                    "required": ["api_key"],
                    "properties": {"api_key": {"title": "Integration secret", "secret": True}},
                },
                "apply": [
                    {"type": "bearer", "value": "{api_key}"},
                    {
                        "type": "header",
                        "name": "Notion-Version",
                        "value": "2022-06-28",
                        "overridable": True,
                    },
                    {"type": "header", "name": "X-Workspace", "value": "acme"},
                ],
                "test_request": {"path": "/users/me", "account_label": ["email"]},
            }
        ],
    }


PORTAL_TENANT = r"^(common|organizations|consumers|[0-9a-f]{8}-[0-9a-f-]{27})$"


def portal(**changes: Any) -> dict[str, Any]:
    """An app with what a person must prepare: OAuth2 first (setup steps, default scopes, a
    closed choice of region and an open choice of tenant), and a deprecated API-key method."""
    config = {
        "type": "object",
        "properties": {
            "region": {
                "title": "Region",
                "default": "eu",
                "choices": [
                    {"value": "eu", "title": "Europe"},
                    {"value": "us", "title": "United States"},
                ],
            },
            "tenant": {
                "title": "Tenant",
                "description": "Which accounts may sign in, or your tenant ID.",
                "pattern": PORTAL_TENANT,
                "default": "common",
                "choices": [
                    {"value": "common", "title": "Any account"},
                    {"value": "organizations", "title": "Work or school accounts"},
                    {"value": "consumers", "title": "Personal accounts"},
                ],
            },
        },
    }
    definition: dict[str, Any] = {
        "key": "portal",
        "name": "Portal",
        "description": "A help desk with regions and tenants.",
        "categories": ["support", "crm"],
        "docs_url": "https://docs.portal.test/api",
        "base_url": "https://{region}.portal.test/api",
        "auth": [
            {
                "kind": "oauth2",
                "config": config,
                "oauth2": {
                    "authorization_url": "https://login.portal.test/{tenant}/authorize",
                    "token_url": "https://login.portal.test/{tenant}/token",
                    "default_scopes": ["tickets:read", "users:read"],
                },
                "setup": {
                    "url": "https://portal.test/developers/apps",
                    "steps": ["Open Developer apps", "Create an OAuth app"],
                },
            },
            {
                "kind": "api_key",
                "config": {"properties": {"region": config["properties"]["region"]}},
                "fields": {
                    "type": "object",
                    "required": ["api_key"],
                    "properties": {"api_key": {"title": "API key", "secret": True}},
                },
                "apply": [{"type": "bearer", "value": "{api_key}"}],
                "setup": {
                    "url": "https://portal.test/settings/keys",
                    "steps": ["Open Settings > API keys", "Create a key"],
                },
                "deprecated": {
                    "since": "2026-10-27",
                    "sunset": "2027-04-30",
                    "note": "API keys stop working at the sunset date.",
                    "use_instead": "oauth2",
                    "source": "https://docs.portal.test/changelog/api-keys",
                },
            },
        ],
    }
    definition.update(changes)
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


#: A project's own app whose token is a JWT it signs (``signed_jwt``, App Store Connect's
#: shape): a JSON key file holding the PEM, a key id and an issuer id.
KEY_ID = "2X9R4HXF34"
SIGNED_JWT_ISSUER = "57246542-96fe-1a63-e053-0824d011072a"

SIGNED_JWT_APP: dict[str, Any] = {
    "key": "store-reports",
    "name": "Store reports",
    "docs_url": "https://developer.apple.com/documentation/appstoreconnectapi",
    "base_url": "https://api.appstoreconnect.apple.com/v1",
    "auth": [
        {
            "kind": "signed_jwt",
            "fields": {
                "required": ["key_file", "key_id", "issuer_id"],
                "properties": {
                    "key_file": {
                        "title": "Key file",
                        "secret": True,
                        "format": "json",
                        "json_values": {"private_key": "private_key"},
                    },
                    "key_id": {"title": "Key ID"},
                    "issuer_id": {"title": "Issuer ID"},
                },
            },
            "signed_jwt": {
                "jwt": {
                    "algorithm": "ES256",
                    "key": "private_key",
                    "headers": {"kid": "{key_id}"},
                    "claims": {"iss": "{issuer_id}", "aud": "appstoreconnect-v1"},
                    "lifetime_seconds": 1200,
                },
                "account_label": "key {key_id}",
            },
            "apply": [{"type": "bearer", "value": "{access_token}"}],
        }
    ],
}

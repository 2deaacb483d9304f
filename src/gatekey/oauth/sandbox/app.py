"""The catalog entry of the sandbox, pointing at wherever it is served."""

from __future__ import annotations

from gatekey.catalog.schema import App

DEMO_CLIENT_ID = "gatekey-demo"


def sandbox_app_definition(base_url: str) -> App:
    """Return the "Sandbox" app for a sandbox served at ``base_url`` (ending in ``/sandbox``)."""
    base = base_url.rstrip("/")
    oauth = {
        "authorization_url": f"{base}/authorize",
        "token_url": f"{base}/token",
        "revocation_url": f"{base}/revoke",
        "issuer": base,
        "default_scopes": ["profile", "tasks.read"],
        "client_auth_method": "client_secret_basic",
        "pkce": True,
        "account_label": [],
    }
    return App.model_validate(
        {
            "key": "sandbox",
            "name": "Sandbox",
            "description": "A practice OAuth2 app served by Gatekey itself; works offline.",
            "categories": ["demo"],
            "docs_url": base,
            "base_url": base,
            "builtin": False,
            "auth": [
                {
                    "kind": "oauth2",
                    "label": "Sign in with Sandbox",
                    "oauth2": oauth,
                    "test_request": {"path": "/api/me", "account_label": ["email", "id"]},
                },
                {
                    "kind": "oauth2_client_credentials",
                    "label": "Machine client (client credentials)",
                    "fields": {
                        "type": "object",
                        "required": ["client_id", "client_secret"],
                        "properties": {
                            "client_id": {"title": "Client ID"},
                            "client_secret": {"title": "Client secret", "secret": True},
                        },
                    },
                    "oauth2": {**oauth, "authorization_url": None},
                    "test_request": {"path": "/api/me", "account_label": ["email", "id"]},
                },
            ],
        }
    )

"""The entries the 2026-12 catalog audit found broken, held to what their providers document.

Each test fails on the entry as it was before the audit (``../shared/reference/
catalog-audit-2026-12.md``, rows 1-5): it runs the real catalog entry through the code a
connection goes through, with the provider played by a transport that answers as its docs say.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from gatekey.catalog.loader import load_catalog
from gatekey.catalog.schema import App, AuthKind
from gatekey.domain import tokens
from gatekey.domain.apply import apply, template_values
from gatekey.errors import CredentialsRejected
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.provider import ProviderClient
from gatekey.probe import Prober
from gatekey.service import utcnow

CATALOG = load_catalog(None)
TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"


def _check(app: App, kind: AuthKind, fields: dict[str, str], answer: httpx2.Response) -> str | None:
    """Run the entry's test request against a provider that gives ``answer``."""
    method = app.method(kind)
    values = template_values(method, fields)
    with httpx2.Client(transport=httpx2.MockTransport(lambda request: answer)) as http:
        return Prober(http).check(
            app, method, apply(app, method, values), values, list(fields.values())
        )


def _authorization_query(app: App, config: dict[str, str]) -> tuple[str, dict[str, str]]:
    method = app.method(AuthKind.OAUTH2)
    assert method.oauth2 is not None
    with httpx2.MockTransport(lambda request: httpx2.Response(500)) as transport:
        url = ProviderClient(transport, timeout=1, clock=utcnow).authorization_url(
            method.oauth2,
            template_values(method, config),
            ClientCredentials("client-1", "secret-1"),
            redirect_uri="https://gatekey.example/oauth/callback",
            scopes=method.oauth2.default_scopes,
            state="state-1",
            code_verifier="v" * 64,
        )
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_zendesk_offers_oauth_first_and_says_api_tokens_are_retired() -> None:
    """Row 1 and 14: no account can create an API token since 2026-10-27."""
    zendesk = CATALOG.get("zendesk")
    assert zendesk.method().kind is AuthKind.OAUTH2
    tokens = zendesk.method(AuthKind.CUSTOM).deprecated
    assert tokens is not None
    assert (tokens.since, tokens.sunset, tokens.use_instead) == (
        date(2026, 10, 27),
        date(2027, 4, 30),
        "oauth2",
    )
    assert zendesk.method(AuthKind.CUSTOM).idle_expiry_days == 30
    path, query = _authorization_query(zendesk, {"subdomain": "acme"})
    assert path == "/oauth/authorizations/new"
    assert query["scope"] == "read write"
    assert query["code_challenge_method"] == "S256"


def test_a_stripe_restricted_key_without_the_account_permission_is_accepted() -> None:
    """Row 2: GET /v1/account answers a live restricted key 403, a bad key 401."""
    stripe = CATALOG.get("stripe")
    refused = httpx2.Response(
        403,
        json={
            "error": {
                "message": "The provided key 'rk_test_***' does not have the required "
                "permissions for this endpoint",
                "type": "invalid_request_error",
            }
        },
    )
    assert _check(stripe, AuthKind.API_KEY, {"api_key": "rk_test_CANARY1"}, refused) is None
    bad = httpx2.Response(401, json={"error": {"message": "Invalid API Key provided"}})
    with pytest.raises(CredentialsRejected):
        _check(stripe, AuthKind.API_KEY, {"api_key": "rk_test_CANARY2"}, bad)


def test_microsoft_signs_a_single_tenant_registration_in_at_its_own_tenant() -> None:
    """Row 3: /common fails for single-tenant registrations (AADSTS50194)."""
    outlook = CATALOG.get("microsoft-outlook")
    path, _ = _authorization_query(outlook, {"tenant": TENANT})
    assert path == f"/{TENANT}/oauth2/v2.0/authorize"
    tenant = outlook.method(AuthKind.OAUTH2).config.properties["tenant"]
    assert tenant.default == "common"
    path, _ = _authorization_query(outlook, {"tenant": "common"})
    assert path == "/common/oauth2/v2.0/authorize"


def test_a_salesforce_token_expires_with_the_session_timeout() -> None:
    """Row 4: Salesforce sends issued_at and no expires_in; the token was taken as never
    expiring, so Test after the timeout found it dead (the engine's side of it, refreshing
    once before deciding, is in tests/service/test_connection_tests.py)."""
    spec = CATALOG.get("salesforce").method(AuthKind.OAUTH2).oauth2
    assert spec is not None
    answer = {
        "access_token": "00D-CANARY6",
        "refresh_token": "5Aep-CANARY7",
        "instance_url": "https://acme.my.salesforce.com",
        "issued_at": "1764633600000",
        "token_type": "Bearer",
    }
    sent = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    expires = tokens.expires_at(
        answer, sent, refetchable=False, default_lifetime=spec.default_token_lifetime_seconds
    )
    assert expires == sent + timedelta(hours=2)
    assert tokens.refresh_due(
        expires, sent, timedelta(seconds=spec.refresh_margin_seconds), expires
    )


def test_slack_asks_for_consent_without_pkce() -> None:
    """Row 5: a PKCE-enabled Slack app is a public client; the secret plus a verifier fails."""
    _, query = _authorization_query(CATALOG.get("slack"), {})
    assert "code_challenge" not in query
    assert query["scope"] == "chat:write,channels:read,users:read"


def test_a_dead_slack_token_fails_the_test_although_slack_answers_200() -> None:
    """Row 7: Slack answers every call 200; {"ok": false} is the refusal."""
    slack = CATALOG.get("slack")
    dead = httpx2.Response(200, json={"ok": False, "error": "invalid_auth"})
    with pytest.raises(CredentialsRejected) as caught:
        _check(slack, AuthKind.OAUTH2, {"access_token": "xoxb-CANARY3"}, dead)
    assert caught.value.message == "Slack rejected the credentials: invalid_auth"
    alive = httpx2.Response(200, json={"ok": True, "team": "Acme", "user": "ada"})
    assert _check(slack, AuthKind.OAUTH2, {"access_token": "xoxb-CANARY4"}, alive) == "Acme"


def test_trello_says_in_plain_text_why_it_refused() -> None:
    """Row 22: Trello answers authentication failures in plain text."""
    trello = CATALOG.get("trello")
    refused = httpx2.Response(401, text="invalid key", headers={"content-type": "text/plain"})
    fields = {"api_key": "0" * 32, "api_token": "CANARY5"}
    with pytest.raises(CredentialsRejected) as caught:
        _check(trello, AuthKind.API_KEY, fields, refused)
    assert caught.value.message == "Trello rejected the credentials (HTTP 401): invalid key"

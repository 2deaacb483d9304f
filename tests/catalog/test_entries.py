"""Checks every catalog entry must pass: a correct authorization URL for OAuth2 methods, rules
for how keys are applied, docs links, and a test request wherever the app can say who it is."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from gatekey.catalog.loader import load_catalog
from gatekey.catalog.schema import App, AuthKind, AuthMethod
from gatekey.domain import fields as field_rules
from gatekey.domain.apply import template_values
from gatekey.domain.templates import render
from gatekey.errors import InvalidFields
from gatekey.oauth.provider import ClientCredentials, ProviderClient
from gatekey.service import utcnow

CATALOG = list(load_catalog(None))
#: Apps with no endpoint that names the account or proves a key without side effects.
NO_TEST_REQUEST = {"custom-http"}
CANDIDATES = ["acme", "acme.example.com", "https://acme.example.com", "12345", "us", "eu", "us1"]


def _config(method: AuthMethod) -> dict[str, str]:
    """Fill each config field with its default, its first choice, or a value its pattern takes."""
    values: dict[str, str] = {}
    for name, spec in method.config.properties.items():
        options = [str(spec.default)] if spec.default is not None else []
        options += list(spec.enum or []) + CANDIDATES
        for option in options:
            if spec.pattern is None or re.search(spec.pattern, option):
                values[name] = option
                break
        else:
            pytest.fail(f"no sample value fits config {name!r} ({spec.pattern})")
    try:
        field_rules.validate(method.config, values, what="config")
    except InvalidFields as exc:
        pytest.fail(f"sample config refused: {exc.details}")
    return values


def test_at_least_the_apps_users_name_first() -> None:
    assert len(CATALOG) >= 80
    assert len({a.key for a in CATALOG}) == len(CATALOG)


@pytest.mark.parametrize("app", CATALOG, ids=lambda a: a.key)
def test_entry_basics(app: App) -> None:
    assert str(app.docs_url).startswith("https://"), "the provider's docs, over HTTPS"
    assert app.description, "a one-line description"
    assert app.categories, "at least one category"
    for method in app.auth:
        if method.kind in (AuthKind.API_KEY, AuthKind.BASIC, AuthKind.CUSTOM):
            assert method.apply, f"{method.kind} must say how credentials are applied"
            assert method.fields.secret_names, "a key or password field is marked secret"
        if app.key not in NO_TEST_REQUEST:
            assert method.test_request or app.test_request, f"{method.kind}: no test request"


OAUTH = [(a, m) for a in CATALOG for m in a.auth if m.kind is AuthKind.OAUTH2]


@pytest.mark.parametrize(("app", "method"), OAUTH, ids=lambda v: getattr(v, "key", ""))
def test_oauth2_entries_build_a_correct_authorization_url(app: App, method: AuthMethod) -> None:
    spec = method.oauth2
    assert spec is not None and spec.authorization_url
    assert spec.token_url.startswith("https://")
    config = _config(method)
    values = template_values(method, config)
    with httpx2.MockTransport(lambda request: httpx2.Response(500)) as transport:
        client = ProviderClient(transport, timeout=1, clock=utcnow)
        url = client.authorization_url(
            spec,
            values,
            ClientCredentials("client-123", "secret"),
            redirect_uri="https://gatekey.example/oauth/callback",
            scopes=spec.default_scopes,
            state="state-xyz",
            code_verifier="v" * 64,
        )
    parts = urlsplit(url)
    expected = urlsplit(render(spec.authorization_url, values))
    assert (parts.scheme, parts.netloc, parts.path) == (
        expected.scheme,
        expected.netloc,
        expected.path,
    )
    assert "{" not in url, "every URL template filled"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == "client-123"
    assert query["redirect_uri"] == "https://gatekey.example/oauth/callback"
    assert query["state"] == "state-xyz"
    assert ("code_challenge" in query) is spec.pkce
    if spec.pkce:
        assert query["code_challenge_method"] == "S256"
    if spec.default_scopes:
        assert query[spec.scope_param] == spec.scope_separator.join(spec.default_scopes)
    for name, value in spec.extra_authorize_params.items():
        assert query[name] == value
    assert render(spec.token_url, values).startswith("https://")

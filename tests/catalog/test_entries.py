"""Checks every catalog entry must pass: a correct authorization URL for OAuth2 methods, rules
for how keys are applied, docs links, and a test request wherever the app can say who it is."""

from __future__ import annotations

import base64
import json
import re
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import SchemaValidator, ValidationError, core_schema

from gatekey.catalog.coverage import unsourced
from gatekey.catalog.loader import load_catalog
from gatekey.catalog.schema import App, AuthKind, AuthMethod, OAuth2Spec
from gatekey.domain import fields as field_rules
from gatekey.domain.apply import template_values
from gatekey.domain.patterns import compile_pattern
from gatekey.domain.templates import render
from gatekey.errors import InvalidFields
from gatekey.oauth.credentials import ClientCredentials
from gatekey.oauth.provider import ProviderClient
from gatekey.service import utcnow

CATALOG = list(load_catalog(None))
#: Apps with no endpoint that names the account or proves a key without side effects.
NO_TEST_REQUEST = {"custom-http", "aws"}
CANDIDATES = ["acme", "acme.example.com", "https://acme.example.com", "12345", "us", "eu", "us1"]


def _config(method: AuthMethod) -> dict[str, str]:
    """Fill each config field with its default, its first choice, or a value its pattern takes."""
    values: dict[str, str] = {}
    for name, spec in method.config.properties.items():
        options = [str(spec.default)] if spec.default is not None else []
        options += list(spec.enum or []) + [c.value for c in spec.choices or []] + CANDIDATES
        for option in options:
            if spec.pattern is None or compile_pattern(spec.pattern).matches(option):
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
    assert len(CATALOG) >= 250
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


@pytest.mark.parametrize("app", CATALOG, ids=lambda a: a.key)
def test_entry_provenance(app: App) -> None:
    """Every fact that makes a connection work names the page it was checked against, and when."""
    assert app.sources, "no sources"
    assert unsourced(app) == [], "facts no source backs"
    for source in app.sources:
        assert date(2026, 1, 1) <= source.checked <= date.today(), source.url
    for method in app.auth:
        if method.kind is not AuthKind.NONE:
            assert method.setup is not None, f"{method.kind}: what to prepare (setup)"


@pytest.mark.parametrize("app", CATALOG, ids=lambda a: a.key)
def test_entry_lifecycle(app: App) -> None:
    """A deprecated method is never offered first while another is not, and ends after it was
    announced."""
    if any(m.deprecated is None for m in app.auth):
        assert app.method().deprecated is None, "the preferred method is deprecated"
    for method in app.auth:
        if method.deprecated and method.deprecated.sunset:
            assert method.deprecated.sunset > method.deprecated.since
        if method.oauth2 is not None:
            for found in method.oauth2.discovery:
                assert found.url.startswith("https://"), "discovery over https"
            clash = method.oauth2.learned_names & set(method.fields.properties)
            assert not clash, f"learned values would replace fields {sorted(clash)}"


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


def _sent(spec: OAuth2Spec, values: dict[str, str], call: str) -> httpx2.Request:
    """The request ``call`` (``exchange`` or ``revoke``) sends for this entry."""
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"access_token": "at-1", "token_type": "bearer"})

    with httpx2.MockTransport(answer) as transport:
        client = ProviderClient(transport, timeout=1, clock=utcnow)
        pair = ClientCredentials("client-123", "secret-456")
        if call == "exchange":
            client.exchange_code(
                spec,
                values,
                pair,
                app_name="App",
                redirect_uri="https://gatekey.example/oauth/callback",
                code="code-789",
                code_verifier="v" * 64,
            )
        else:
            client.revoke(spec, values, pair, app_name="App", token="at-1", token_type_hint="x")
    [request] = seen
    return request


def _parameters(request: httpx2.Request) -> dict[str, str]:
    if request.headers["content-type"].startswith("application/json"):
        return {k: str(v) for k, v in json.loads(request.content).items()}
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


@pytest.mark.parametrize(("app", "method"), OAUTH, ids=lambda v: getattr(v, "key", ""))
def test_oauth2_entries_send_token_and_revocation_requests_as_they_say(
    app: App, method: AuthMethod
) -> None:
    """Client authentication, body encoding and headers per endpoint, as the entry states."""
    spec = method.oauth2
    assert spec is not None
    values = template_values(method, _config(method))
    basic = "Basic " + base64.b64encode(b"client-123:secret-456").decode()
    calls = [("exchange", spec.token_request)]
    if spec.revocation_url:
        calls.append(("revoke", spec.revocation_request))
    for call, shape in calls:
        request = _sent(spec, values, call)
        sent = _parameters(request)
        by_body = (shape.client_auth_method or spec.client_auth_method) == "client_secret_post"
        assert (request.headers.get("authorization") == basic) is not by_body, call
        assert (sent.get("client_secret") == "secret-456") is by_body, call
        json_body = request.headers["content-type"].startswith("application/json")
        assert json_body is (shape.body == "json"), call
        for name, value in shape.headers.items():
            assert request.headers[name] == render(value, values), call
        if call == "exchange":
            assert sent["grant_type"] == "authorization_code" and sent["code"] == "code-789"
            assert ("code_verifier" in sent) is spec.pkce
        else:
            assert sent["token"] == "at-1"


FIELD_PATTERNS = sorted(
    {
        spec.pattern
        for app in CATALOG
        for method in app.auth
        for schema in (method.fields, method.config)
        for spec in schema.properties.values()
        if spec.pattern
    }
)
#: Characters where the engines' classes part: Unicode spaces, controls, line ends, letters.
TRICKY = "\x00\t\n\x0b\x0c\r\x1c \x85\xa0\u1680\u2007\u2028\u3000\ufeffé\u0661K"


def _samples(pattern: str) -> st.SearchStrategy[str]:
    """Strings near the pattern (Python's reading of it, made readable where it lacks \\p)."""
    near = st.from_regex(pattern.replace(r"\p{Z}", ""))
    spliced = st.tuples(near, st.text(TRICKY, min_size=1, max_size=2), st.integers(0, 40)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
    )
    return st.one_of(near, spliced, spliced, st.text(TRICKY + "azAZ09-_.:/@", max_size=30))


@pytest.mark.slow  # fuzzing: Hypothesis against the old engine
@pytest.mark.parametrize("pattern", FIELD_PATTERNS)
def test_catalog_field_patterns_match_as_they_did(pattern: str) -> None:
    """RE2 takes exactly what pydantic's regex engine, which ran field patterns before, took."""
    before = SchemaValidator(core_schema.str_schema(pattern=pattern))
    now = compile_pattern(pattern)

    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(_samples(pattern))
    def agree(text: str) -> None:
        try:
            before.validate_python(text)
            took = True
        except ValidationError:
            took = False
        assert now.matches(text) is took, repr(text)

    agree()


def test_the_derived_data_centre_is_read_as_before() -> None:
    mailchimp = next(a for a in CATALOG if a.key == "mailchimp").method()
    for key, dc in [("abc-us6", "us6"), ("a-b-us21", "us21"), ("k-us6-eu1", "eu1")]:
        assert template_values(mailchimp, {"api_key": key})["dc"] == dc
    for key in ["abc", "abc-us", "abc-6", "abc-us6-", "abc-US6"]:
        with pytest.raises(InvalidFields):
            template_values(mailchimp, {"api_key": key})


def test_the_readme_counts_the_catalog_as_it_is() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    found = re.search(r"(\d+) apps in (\d+) categories", readme)
    assert found is not None
    in_use = {category for app in CATALOG if app.builtin for category in app.categories}
    assert (int(found[1]), int(found[2])) == (len(CATALOG), len(in_use))

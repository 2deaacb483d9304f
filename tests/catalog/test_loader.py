from __future__ import annotations

from pathlib import Path

import pytest

from gatekey.catalog.loader import CatalogError, builtin_apps, load_catalog
from gatekey.catalog.schema import AuthKind
from gatekey.errors import UnknownApp

REQUIRED = {
    "sendgrid",
    "airtable",
    "notion",
    "calcom",
    "stripe",
    "twilio",
    "mailchimp",
    "visma-economic",
    "zendesk",
    "openai",
    "postmark",
    "custom-http",
}
APPS = builtin_apps()
#: Apps with no request that proves a key without side effects (AWS: any service's endpoint).
NO_TEST_REQUEST = {"custom-http", "aws"}


def test_the_apps_the_core_needs_are_shipped() -> None:
    assert {app.key for app in APPS} >= REQUIRED


@pytest.mark.parametrize("app", APPS, ids=lambda a: a.key)
def test_each_entry_is_complete(app) -> None:  # type: ignore[no-untyped-def]
    assert str(app.docs_url).startswith("https://")
    for method in app.auth:
        if method.kind in (AuthKind.API_KEY, AuthKind.BASIC, AuthKind.CUSTOM):
            assert method.apply, "says how credentials are applied"
            assert method.fields.secret_names, "marks at least one field secret"
    if app.key != "custom-http":
        assert app.base_url.startswith("https://")
    if app.key not in NO_TEST_REQUEST:
        assert any(m.test_request or app.test_request for m in app.auth)


def test_keys_are_unique() -> None:
    keys = [app.key for app in APPS]
    assert len(keys) == len(set(keys))


def test_operator_directory_adds_apps(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text(
        "key: acme\nname: Acme\ndocs_url: https://acme.test/docs\nbase_url: https://api.acme.test\n"
        "auth:\n  - kind: api_key\n    fields:\n      required: [token]\n      properties:\n"
        "        token: {title: Token, secret: true}\n"
        "    apply:\n      - {type: header, name: X-Acme-Key, value: '{token}'}\n"
    )
    catalog = load_catalog(tmp_path)
    assert catalog.get("acme").builtin is False
    assert len(catalog) == len(APPS) + 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key: [", "not valid YAML"),
        ("- a\n- b\n", "must be a mapping"),
        ("key: xy\nname: X\n", "docs_url"),
        (
            "key: bad\nname: Bad\ndocs_url: https://b.test\nbase_url: 'https://{tenant}.b.test'\n"
            "auth:\n  - kind: api_key\n    fields:\n      properties:\n"
            "        k: {title: K, secret: true}\n"
            "    apply: [{type: bearer, value: '{k}'}]\n",
            "unknown ['tenant']",
        ),
        (
            "key: bad\nname: Bad\ndocs_url: https://b.test\nbase_url: https://b.test\n"
            "auth:\n  - kind: api_key\n    fields:\n      properties:\n"
            "        k: {title: K, secret: true}\n",
            "must say how credentials are applied",
        ),
        (
            "key: bad\nname: Bad\ndocs_url: https://b.test\nbase_url: https://b.test\n"
            "auth:\n  - kind: oauth2\n",
            "needs an oauth2 section",
        ),
    ],
)
def test_invalid_definitions_name_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    assert "bad.yaml" in caught.value.message
    assert expected in caught.value.message


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sendgrid.yaml").write_text(
        (Path(__file__).parents[2] / "src/gatekey/catalog/apps/sendgrid.yaml").read_text()
    )
    with pytest.raises(CatalogError, match="defined twice"):
        load_catalog(tmp_path)


def test_unknown_app_has_a_stable_code() -> None:
    with pytest.raises(UnknownApp) as caught:
        load_catalog().get("nope")
    assert caught.value.code == "unknown_app"


OAUTH_APPS = [
    "gmail",
    "google-calendar",
    "google-sheets",
    "google-drive",
    "slack",
    "hubspot",
    "notion",
    "airtable",
    "github",
    "microsoft-outlook",
    "salesforce",
    "quickbooks",
    "zoom",
    "dropbox",
    "asana",
    "linear",
    "calendly",
    "shopify",
    "xero",
    "pipedrive",
]


def test_the_oauth2_apps_are_complete() -> None:
    from gatekey.catalog.loader import load_catalog
    from gatekey.catalog.schema import AuthKind

    catalog = load_catalog(None)
    for key in OAUTH_APPS:
        method = catalog.get(key).method(AuthKind.OAUTH2)
        spec = method.oauth2
        assert spec is not None, key
        for url in (spec.authorization_url, spec.token_url, spec.revocation_url):
            assert url is None or url.startswith("https://"), (key, url)
    google = catalog.get("google-drive").method(AuthKind.OAUTH2).oauth2
    assert google is not None
    assert google.extra_authorize_params["access_type"] == "offline"
    assert google.extra_authorize_params["prompt"] == "consent"
    slack = catalog.get("slack").method(AuthKind.OAUTH2).oauth2
    assert slack is not None and slack.scope_separator == ","
    salesforce = catalog.get("salesforce").method(AuthKind.OAUTH2).oauth2
    assert salesforce is not None and "instance_url" in salesforce.token_config_paths
    shopify = catalog.get("shopify").method(AuthKind.OAUTH2)
    assert "{shop}" in (shopify.oauth2.authorization_url if shopify.oauth2 else "")
    assert catalog.get("airtable").method(AuthKind.OAUTH2).oauth2.pkce  # type: ignore[union-attr]

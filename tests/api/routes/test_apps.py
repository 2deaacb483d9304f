"""``/api/v1/apps`` over HTTP: filters, categories, what to prepare, and the OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gatekey.catalog.categories import CATEGORIES
from gatekey.runtime import Runtime
from tests.fakes.apps import acme, portal


def _keys(client: TestClient, headers: dict[str, str], **params: str) -> set[str]:
    answer = client.get("/api/v1/apps", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return {a["key"] for a in answer.json()}


def test_apps_are_filtered_by_category_auth_kind_and_text(
    client: TestClient, admin: dict[str, str], worker: dict[str, str]
) -> None:
    for definition in (acme(), portal()):
        assert client.post("/api/v1/apps", json=definition, headers=admin).status_code == 201

    support = _keys(client, worker, category="support")
    assert "portal" in support and "acme-crm" not in support
    assert {"acme-crm", "portal"} <= _keys(client, worker, category="crm", auth_kind="api_key")
    oauth_crm = _keys(client, worker, category="crm", auth_kind="oauth2")
    assert "portal" in oauth_crm and "acme-crm" not in oauth_crm
    assert _keys(client, worker, q="in-house crm") == {"acme-crm"}, "the description counts"


def test_an_unknown_filter_value_is_a_422_naming_the_query_field(
    client: TestClient, worker: dict[str, str]
) -> None:
    answer = client.get("/api/v1/apps?category=gardening&auth_kind=saml", headers=worker)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["code"] == "invalid_input"
    assert {e["field"] for e in problem["errors"]} == {"query.category", "query.auth_kind"}


def test_the_categories_in_use_come_with_counts(
    client: TestClient, admin: dict[str, str], worker: dict[str, str]
) -> None:
    client.post("/api/v1/apps", json=portal(), headers=admin)
    categories = client.get("/api/v1/apps/categories", headers=worker).json()
    counted = {c["category"]: c["count"] for c in categories}
    assert counted["support"] == len(_keys(client, worker, category="support"))
    assert list(counted) == sorted(counted)


def test_each_method_says_what_to_prepare(
    client: TestClient, admin: dict[str, str], worker: dict[str, str], runtime: Runtime
) -> None:
    client.post("/api/v1/apps", json=portal(), headers=admin)
    document = client.get("/api/v1/apps/portal", headers=worker).json()
    oauth, key = document["auth"]
    assert oauth["prepare"] == {
        "setup_url": "https://portal.test/developers/apps",
        "steps": ["Open Developer apps", "Create an OAuth app"],
        "redirect_uri": runtime.settings.callback_url,
        "scopes": ["tickets:read", "users:read"],
        "deprecated": None,
        "idle_expiry_days": None,
    }
    assert key["prepare"]["redirect_uri"] is None
    assert key["prepare"]["deprecated"] == {
        "since": "2026-10-27",
        "sunset": "2027-04-30",
        "note": "API keys stop working at the sunset date.",
        "use_instead": "oauth2",
        "source": "https://docs.portal.test/changelog/api-keys",
    }
    assert key["deprecated"]["use_instead"] == "oauth2", "the definition's own field stays"
    region = oauth["config"]["properties"]["region"]
    assert region["default"] == "eu"
    assert [c["value"] for c in region["choices"]] == ["eu", "us"]


def test_prepare_is_computed_never_part_of_a_definition(
    client: TestClient, admin: dict[str, str]
) -> None:
    """``prepare`` is computed: a definition that still holds it is refused naming it."""
    added = client.post("/api/v1/apps", json=portal(), headers=admin).json()
    assert added["auth"][0]["prepare"]["scopes"] == ["tickets:read", "users:read"]
    sent_back = {k: v for k, v in added.items() if k not in ("source", "builtin")}
    refused = client.put("/api/v1/apps/portal", json=sent_back, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_app_definition"
    assert any("prepare" in e["field"] for e in refused.json()["errors"])


def test_the_openapi_document_describes_the_filters_and_prepare(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    listing = spec["paths"]["/api/v1/apps"]["get"]
    parameters = {p["name"]: p for p in listing["parameters"]}
    assert set(parameters) == {"q", "category", "auth_kind"}
    (categories, _) = parameters["category"]["schema"]["anyOf"]
    assert list(categories["enum"]) == list(CATEGORIES)
    assert "oauth2_client_credentials" in str(spec["components"]["schemas"]["AuthKind"])
    counts = spec["paths"]["/api/v1/apps/categories"]["get"]["responses"]["200"]
    assert "AppCategory" in str(counts)
    one = spec["paths"]["/api/v1/apps/{key}"]["get"]["responses"]["200"]
    assert "AppDocument" in str(one)
    prepare = spec["components"]["schemas"]["Preparation"]["properties"]
    assert {"setup_url", "steps", "redirect_uri", "scopes", "deprecated"} <= set(prepare)


def test_new_fields_used_wrongly_are_refused_naming_each_and_nothing_is_stored(
    client: TestClient, admin: dict[str, str], worker: dict[str, str]
) -> None:
    definition = acme(key="acme-wrong")
    method = definition["auth"][0]
    method["responses"] = {"ok_when": {"path": "ok"}}
    method["apply"].append(
        {"type": "header", "name": "Authorization", "value": "x", "overridable": True}
    )
    method["setup"] = {"url": "https://acme.test/keys", "steps": []}
    definition["sources"] = [{"url": "https://acme.test/docs", "checked": "soon", "facts": []}]
    refused = client.post("/api/v1/apps", json=definition, headers=admin)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "invalid_app_definition"
    named = {e["field"] for e in problem["errors"]}
    assert {
        "auth.0.responses.ok_when",
        "auth.0.setup.steps",
        "sources.0.checked",
        "sources.0.facts",
    } <= named, named
    assert client.get("/api/v1/apps/acme-wrong", headers=worker).json()["code"] == "unknown_app"

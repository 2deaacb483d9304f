"""Listing apps by category, auth kind and text, and the categories in use (service/apps.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatekey.catalog.loader import load_catalog
from gatekey.errors import InvalidAppDefinition, InvalidInput
from gatekey.service import Actor, Service
from tests.fakes.apps import acme, portal


def test_filters_combine_on_the_catalog_and_the_project_s_apps(
    service: Service, actor: Actor
) -> None:
    service.apps.add(actor, acme())
    service.apps.add(actor, portal())

    every = service.apps.list(actor)
    support = {a.key for a in service.apps.list(actor, category="support")}
    assert "portal" in support and "acme-crm" not in support
    assert support == {a.key for a in every if "support" in a.categories}, "catalog apps alike"
    crm_keys = {a.key for a in service.apps.list(actor, category="crm", auth_kind="api_key")}
    assert {"acme-crm", "portal"} <= crm_keys
    oauth_crm = service.apps.list(actor, category="crm", auth_kind="oauth2")
    assert "portal" in {a.key for a in oauth_crm}
    assert "acme-crm" not in {a.key for a in oauth_crm}
    assert all("oauth2" in a.auth_kinds and "crm" in a.categories for a in oauth_crm)
    assert [a.key for a in service.apps.list(actor, "portal", auth_kind="basic")] == []


def test_text_is_found_in_the_description_in_any_case(service: Service, actor: Actor) -> None:
    service.apps.add(actor, portal())
    assert [a.key for a in service.apps.list(actor, "REGIONS AND TENANTS")] == ["portal"]


def test_an_unknown_category_or_auth_kind_is_refused_naming_both(
    service: Service, actor: Actor
) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.apps.list(actor, category="gardening", auth_kind="saml")
    fields = {e["field"]: e["message"] for e in caught.value.details["errors"]}
    assert set(fields) == {"category", "auth_kind"}
    assert fields["category"].startswith("must be one of accounting, ai, ")
    assert fields["auth_kind"] == (
        "must be one of oauth2, oauth2_client_credentials, api_key, basic, custom, none, "
        "oauth1, jwt_bearer, signed_jwt, github_app, aws_sigv4, two_step"
    )
    assert caught.value.code == "invalid_input"


def test_the_categories_in_use_are_counted(service: Service, actor: Actor) -> None:
    before = {c.category: c.count for c in service.apps.categories(actor)}
    service.apps.add(actor, portal())
    after = {c.category: c.count for c in service.apps.categories(actor)}
    assert after["support"] == before["support"] + 1
    assert after["crm"] == before["crm"] + 1
    assert list(after) == sorted(after)
    assert all(n > 0 for n in after.values())
    listed = service.apps.list(actor, category="support")
    assert after["support"] == len(listed)


def test_the_listing_s_own_names_are_no_app_keys(service: Service, actor: Actor) -> None:
    with pytest.raises(InvalidAppDefinition) as caught:
        service.apps.add(actor, acme(key="categories"))
    [error] = caught.value.details["errors"]
    assert error["field"] == "key" and "is reserved" in error["message"]
    assert "categories" not in {a.key for a in service.apps.list(actor)}


def test_an_operator_directory_cannot_take_a_listing_s_name_either(tmp_path: Path) -> None:
    (tmp_path / "categories.yaml").write_text(json.dumps(acme(key="categories")))
    with pytest.raises(InvalidAppDefinition, match="is reserved"):
        load_catalog(tmp_path)

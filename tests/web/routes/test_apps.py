"""The Apps page in a real browser: search and filters, what to prepare, connect, apps added to
the project, and the new-connection form's choices."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from gatekey.service.apps import stored_definition
from tests.fakes.apps import acme, portal
from tests.fakes.browser import Served, new_connection, shot
from tests.fakes.provider_server import ACCEPTED


def test_the_apps_page_searches_and_connects(page: Page, served: Served) -> None:
    page.get_by_role("link", name="Apps", exact=True).click()
    expect(page.locator(".app[data-app=github]")).to_contain_text("OAuth2")
    page.get_by_label("Search apps").fill("crm")
    page.get_by_label("Search apps").press("Enter")
    card = page.locator(".app[data-app=local-crm]")
    expect(card).to_be_visible()
    expect(page.locator(".app[data-app=github]")).to_have_count(0)
    card.get_by_role("link", name="Connect").click()
    expect(page.get_by_role("dialog", name="New connection")).to_be_visible()
    expect(page.locator("#new-connection input[name=app]")).to_have_value("local-crm")


def test_an_app_added_to_the_project_is_connectable_like_any_other(
    page: Page, served: Served
) -> None:
    service, actor = served.runtime.service, served.actor
    definition = stored_definition(service.apps.get(actor, "local-crm"))
    definition.update(key="team-crm", name="Team CRM")
    service.apps.add(actor, definition)
    page.reload()

    new_connection(page, "team-crm", "Team CRM - Main")
    page.get_by_label("API key").fill(ACCEPTED)
    page.get_by_role("button", name="Save and test").click()
    expect(page.locator(".conn", has_text="Team CRM - Main")).to_contain_text("Active")

    page.get_by_role("link", name="Apps", exact=True).click()
    expect(page.locator(".app[data-app=team-crm] .tag").first).to_have_text("This project")
    expect(page.locator(".app[data-app=local-crm] .tag").first).to_have_text("Operator")
    expect(page.locator(".app[data-app=github] h3 .tag")).to_have_count(0)


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_the_apps_page_filters_by_category_and_auth_kind_in_the_url(
    browser: Browser, served: Served, javascript: bool
) -> None:
    served.runtime.service.apps.add(served.actor, acme())
    served.runtime.service.apps.add(served.actor, portal())
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.goto(served.signin_link)
    page.goto(f"{served.url}/apps")
    page.get_by_label("Category").select_option("crm")
    if not javascript:
        page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"category=crm"))
    expect(page.locator(".app[data-app=acme-crm]")).to_be_visible()
    page.get_by_label("Auth kind").select_option("oauth2")
    if not javascript:
        page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"category=crm&auth_kind=oauth2"))
    expect(page.locator(".app[data-app=portal]")).to_be_visible()
    expect(page.locator(".app[data-app=acme-crm]")).to_have_count(0)
    expect(page.get_by_label("Category")).to_have_value("crm")
    expect(page.get_by_label("Auth kind")).to_have_value("oauth2")
    page.reload()
    expect(page.locator(".app")).to_have_count(len(_listed(served, "crm", "oauth2")))
    page.get_by_role("link", name="Clear filters").click()
    expect(page.locator(".app[data-app=acme-crm]")).to_be_visible()
    context.close()


def _listed(served: Served, category: str, auth_kind: str) -> list[str]:
    found = served.runtime.service.apps.list(served.actor, category=category, auth_kind=auth_kind)
    return [a.key for a in found]


def test_each_app_says_what_to_prepare_and_which_methods_are_deprecated(
    page: Page, served: Served
) -> None:
    served.runtime.service.apps.add(served.actor, portal())
    page.goto(f"{served.url}/apps?q=portal")
    card = page.locator(".app[data-app=portal]")
    note = card.get_by_role("note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("API key is deprecated (since 2026-10-27; stops working on ")
    expect(note).to_contain_text("2027-04-30). API keys stop working at the sunset date.")
    expect(note).to_contain_text("Use OAuth2 instead.")
    card.get_by_text("What to prepare for OAuth2").click()
    oauth = card.locator(".method[data-kind=oauth2]")
    expect(oauth.get_by_role("link", name="https://portal.test/developers/apps")).to_be_visible()
    steps = oauth.locator("ol.steps li")
    expect(steps).to_have_text(["Open Developer apps", "Create an OAuth app"])
    expect(oauth.locator(".redirect-uri")).to_have_text(served.runtime.settings.callback_url)
    expect(oauth.locator(".scope")).to_have_text(["tickets:read", "users:read"])
    expect(card.locator(".method[data-kind=api_key] .redirect-uri")).to_have_count(0)
    expect(card.locator(".tag")).to_have_text(["This project", "OAuth2", "API key (deprecated)"])
    shot(page, "apps-prepare")


def test_a_filter_value_the_page_does_not_know_is_said_and_left_out(
    page: Page, served: Served
) -> None:
    page.goto(f"{served.url}/apps?category=gardening&auth_kind=oauth2")
    expect(page.get_by_role("alert")).to_have_text(
        "Not a filter Gatekey knows, left out: gardening."
    )
    expect(page.get_by_label("Category")).to_have_value("")
    expect(page.get_by_label("Auth kind")).to_have_value("oauth2")
    oauth2 = served.runtime.service.apps.list(served.actor, auth_kind="oauth2")
    expect(page.locator(".app")).to_have_count(len(oauth2))


def test_choices_are_offered_with_their_default_in_the_new_connection_form(
    page: Page, served: Served
) -> None:
    served.runtime.service.apps.add(served.actor, portal())
    page.reload()
    new_connection(page, "portal", "Portal - EU")
    region = page.locator("#new-connection select[name='config.region']")
    expect(region).to_have_value("eu")
    expect(region.locator("option")).to_have_text(["Europe", "United States"])
    tenant = page.get_by_label("Tenant")
    expect(tenant).to_have_value("common")
    expect(tenant).to_have_attribute("list", "config-tenant-choices")
    choices = page.locator("#config-tenant-choices option")
    expect(choices).to_have_count(3)
    assert [o.get_attribute("value") for o in choices.all()] == [
        "common",
        "organizations",
        "consumers",
    ]


def test_a_choice_picked_in_the_form_is_the_connection_s_config(page: Page, served: Served) -> None:
    service, actor = served.runtime.service, served.actor
    definition = stored_definition(service.apps.get(actor, "local-crm"))
    definition.update(key="regional-crm", name="Regional CRM")
    region = portal()["auth"][0]["config"]["properties"]["region"]
    definition["auth"][0]["config"] = {"properties": {"region": region}}
    service.apps.add(actor, definition)
    page.reload()

    new_connection(page, "regional-crm", "Regional CRM - US")
    page.get_by_label("Region", exact=True).select_option("us")
    page.get_by_label("API key").fill(ACCEPTED)
    page.get_by_role("button", name="Save and test").click()
    expect(page.locator(".conn", has_text="Regional CRM - US")).to_contain_text("Active")
    (made,) = service.connections.list(actor, app="regional-crm").items
    assert made.config == {"region": "us"}

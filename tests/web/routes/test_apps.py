"""The Apps page in a real browser: search, connect, and apps added to the project."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from gatekey.service.apps import stored_definition
from tests.fakes.browser import Served, new_connection
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

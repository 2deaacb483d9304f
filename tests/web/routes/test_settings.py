"""The OAuth clients settings page in a real browser."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.fakes.browser import Served, shot


def test_oauth_clients_settings(page: Page, served: Served) -> None:
    page.get_by_role("link", name="OAuth clients").click()
    expect(page.locator("tr[data-app=sandbox]")).to_be_visible()
    page.get_by_label("App", exact=True).select_option("github")
    page.get_by_label("Client ID").fill("Iv1.page")
    page.get_by_label("Client secret").fill("page-secret-CANARY-12")
    page.get_by_role("button", name="Add client").click()
    expect(page.locator("tr[data-app=github]")).to_contain_text("Iv1.page")
    assert "CANARY" not in page.content()
    shot(page, "oauth-clients")

"""The OAuth clients settings page in a real browser."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.fakes import pki
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


def test_a_github_app_key_is_registered_from_its_file(
    page: Page, served: Served, tmp_path: Path
) -> None:
    """A GitHub App's client secret is its PEM private key: read from the chosen file into a
    masked box, checked by the server (a secret that is no PEM is refused in the form), and
    shown nowhere after."""
    key = pki.rsa_pem("settings-github-app")
    pem = tmp_path / "app.private-key.pem"
    pem.write_text(key)
    page.get_by_role("link", name="OAuth clients").click()
    page.get_by_label("App", exact=True).select_option("github-app")
    page.get_by_label("Client ID").fill("Iv23liPAGE")
    page.get_by_label("Client secret").fill("not-a-pem-secret")
    page.get_by_role("button", name="Add client").click()
    expect(page.locator(".form-error")).to_be_visible()
    expect(page.locator("tr[data-app=github-app]")).to_have_count(0)

    page.get_by_label("Client secret").fill("")
    page.set_input_files("input[data-file-into=client-key]", str(pem))
    expect(page.locator("#client-key")).to_have_value(key.strip())
    page.get_by_role("button", name="Add client").click()
    expect(page.locator("tr[data-app=github-app]")).to_contain_text("Iv23liPAGE")
    body = key.splitlines()[1]
    assert body not in page.content()

"""Signing in and out in a real browser: the cookie, CSRF on every POST, one-time links."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.fakes.browser import Served


def test_sign_in_session_cookie_csrf_and_sign_out(page: Page, served: Served) -> None:
    cookie = next(c for c in page.context.cookies() if c["name"] == "gatekey_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
    response = page.request.get(f"{served.url}/connections")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    forged = page.request.post(f"{served.url}/connections/oauth", form={"app": "sandbox"})
    assert forged.status == 403 and forged.json()["code"] == "forbidden"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Gatekey")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(f"{served.url}/connections")
    assert "/signin" in page.url
    page.get_by_label("Admin API key").fill("gk_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".form-error")).to_contain_text("unknown, expired or revoked API key")
    runtime_key = served.runtime.service.access.create_key(served.actor, name="w", role="runtime")
    page.get_by_label("Admin API key").fill(runtime_key.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".form-error")).to_contain_text("this is a runtime API key")
    expect(page.locator(".form-error")).to_contain_text("sign in with an admin API key")
    expect(page.locator(".notice")).to_have_count(0)
    assert runtime_key.token not in page.content()
    admin_key = served.runtime.service.access.create_key(served.actor, name="a", role="admin")
    page.get_by_label("Admin API key").fill(admin_key.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible()
    used_link = page.context.new_page()
    used_link.goto(served.signin_link)
    expect(used_link.locator(".form-error")).to_contain_text("used already")

"""The Connections page in a real browser (Debian's Chromium through Playwright)."""

from __future__ import annotations

import httpx2
import pytest
from playwright.sync_api import Page, expect

from gatekey.errors import ConnectionInactive
from gatekey.service.apps import stored_definition
from tests.fakes.browser import Served, shot
from tests.fakes.provider_server import ACCEPTED

pytestmark = pytest.mark.slow  # a browser


def _new(page: Page, app: str, name: str) -> None:
    page.get_by_role("button", name="New connection").first.click()
    dialog = page.get_by_role("dialog", name="New connection")
    dialog.get_by_label("App").select_option(app)
    page.locator("#new-connection").wait_for()
    dialog.get_by_label("Name").fill(name)


def _connect_in_popup(page: Page, button_name: str, user: str = "ada@example.com") -> None:
    with page.expect_popup() as opened:
        page.get_by_role("button", name=button_name).first.click()
    popup = opened.value
    popup.get_by_label("Account").fill(user)
    with popup.expect_event("close", timeout=15_000):
        popup.get_by_role("button", name="Allow").click()


def test_an_api_key_connection_with_inline_errors(page: Page, served: Served) -> None:
    expect(page.get_by_role("heading", name="No connections yet")).to_be_visible()
    shot(page, "empty")
    _new(page, "local-crm", "CRM - Production")
    page.get_by_label("API key").fill("CANARYwrong")
    page.get_by_role("button", name="Save and test").click()
    expect(page.locator("#new-connection .form-error")).to_contain_text("API key not recognised")
    assert served.runtime.service.list_connections(served.actor).items == []

    page.get_by_label("API key").fill(ACCEPTED)
    page.get_by_role("button", name="Save and test").click()
    card = page.locator(".conn", has_text="CRM - Production")
    expect(card).to_contain_text("Active")
    expect(card.locator(".account")).to_have_text("owner@local.test")
    expect(page.locator("#dialog-new")).not_to_be_visible()
    assert ACCEPTED not in page.content()


def test_oauth_popup_revocation_and_reconnect_on_the_same_id(page: Page, served: Served) -> None:
    _new(page, "sandbox", "Sandbox - Ada")
    _connect_in_popup(page, "Connect Sandbox")
    card = page.locator(".conn", has_text="Sandbox - Ada")
    expect(card).to_contain_text("Active")
    expect(card.locator(".account")).to_have_text("ada@example.com")
    expect(card).to_contain_text("tasks.read")
    connection_id = card.get_attribute("data-id") or ""
    shot(page, "connected")

    service = served.runtime.service
    token = service.resolve_credentials(served.actor, connection_id).fields["access_token"]
    httpx2.post(f"{served.url}/sandbox/control/revoke", trust_env=False).raise_for_status()
    with pytest.raises(ConnectionInactive):
        service.resolve_credentials(served.actor, connection_id, stale_token=token)

    page.reload()
    card = page.locator(f"#card-{connection_id}")
    expect(card).to_contain_text("Inactive")
    expect(card.locator(".reason")).to_contain_text("Access revoked")
    attention = page.locator(".attention")
    expect(attention).to_contain_text("1 connection needs attention")
    expect(attention).to_contain_text("Sandbox - Ada")
    shot(page, "needs-attention")

    _connect_in_popup(page, "Reconnect")
    card = page.locator(f"#card-{connection_id}")
    expect(card).to_contain_text("Active")
    expect(page.locator(".attention li")).to_have_count(0)
    assert [c.id for c in service.list_connections(served.actor).items] == [connection_id]


def test_filter_rename_and_delete(page: Page, served: Served) -> None:
    service = served.runtime.service
    for name in ("CRM - Staging", "CRM - Production"):
        service.create_connection(
            served.actor, app="local-crm", name=name, fields={"api_key": ACCEPTED}
        )
    production_id = service.list_connections(served.actor, text="production").items[0].id
    service.create_flow(
        served.actor,
        name="Nightly sync",
        definition={
            "steps": [
                {
                    "id": "pull",
                    "app": "local-crm",
                    "connection": production_id,
                    "type": "http",
                    "http": {"path": "/me"},
                }
            ]
        },
    )
    broken = service.list_connections(served.actor, text="staging").items[0]
    with served.runtime.db.write() as conn:
        from gatekey.store import connections as rows

        rows.set_values(
            conn,
            served.actor.project_id,
            broken.id,
            {"status": "inactive", "status_reason": "invalid_credentials"},
        )
    page.reload()
    page.get_by_role("button", name="Inactive", exact=True).click()
    expect(page.locator(".cards .conn")).to_have_count(1)
    expect(page.locator(".cards .conn")).to_contain_text("CRM - Staging")
    page.get_by_role("button", name="All", exact=True).click()
    expect(page.locator(".cards .conn")).to_have_count(2)
    page.get_by_label("Search connections").fill("production")
    page.get_by_label("Search connections").press("Enter")
    expect(page.locator(".cards .conn")).to_have_count(1)
    page.goto(f"{served.url}/connections")

    production = page.locator(".conn", has_text="CRM - Production")
    production.get_by_text("More").click()
    production.get_by_role("button", name="Rename").click()
    page.locator("#rename-name").fill("crm - staging")
    page.locator("#dialog-rename").get_by_role("button", name="Rename").click()
    expect(page.locator("#dialog-rename .form-error")).to_contain_text("already exists")
    page.locator("#rename-name").fill("CRM - Live")
    page.locator("#dialog-rename").get_by_role("button", name="Rename").click()
    expect(page.locator(".conn", has_text="CRM - Live")).to_be_visible()

    live = page.locator(".conn", has_text="CRM - Live")
    expect(live.locator(".usage")).to_have_text("1 flow")
    live.get_by_text("More").click()
    live.get_by_role("button", name="Delete").click()
    dialog = page.locator("#dialog-delete")
    expect(dialog).to_contain_text("Delete CRM - Live?")
    expect(dialog).to_contain_text("These flows use it and will fail")
    expect(dialog).to_contain_text("Nightly sync (step pull)")
    shot(page, "delete-warning")
    dialog.get_by_role("button", name="Delete").click()
    expect(page.locator(".conn", has_text="CRM - Live")).to_have_count(0)
    assert [c.name for c in service.list_connections(served.actor).items] == ["CRM - Staging"]
    staging = page.locator(".conn", has_text="CRM - Staging")
    staging.get_by_text("More").click()
    staging.get_by_role("button", name="Delete").click()
    expect(dialog).to_contain_text("No flow uses this connection")
    dialog.get_by_role("button", name="Cancel").click()


def test_blocked_and_closed_popups_are_explained(page: Page, served: Served) -> None:
    page.add_init_script("window.open = function () { return null; }")
    page.reload()
    _new(page, "sandbox", "Sandbox - Blocked")
    page.get_by_role("button", name="Connect Sandbox").click()
    expect(page.locator("#new-connection .form-error")).to_contain_text("blocked the sign-in")

    page.goto(f"{served.url}/connections")  # a page without the override
    fresh = page.context.new_page()
    fresh.goto(f"{served.url}/connections")
    _new(fresh, "sandbox", "Sandbox - Closed")
    with fresh.expect_popup() as opened:
        fresh.get_by_role("button", name="Connect Sandbox").click()
    opened.value.close()
    expect(fresh.locator("#new-connection .form-error")).to_contain_text(
        "closed before you finished", timeout=10_000
    )
    assert served.runtime.service.list_connections(served.actor).items == []


def test_sign_in_session_cookie_csrf_and_sign_out(page: Page, served: Served) -> None:
    cookie = next(c for c in page.context.cookies() if c["name"] == "gatekey_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
    response = page.request.get(f"{served.url}/connections")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    forged = page.request.post(f"{served.url}/connections/oauth", form={"app": "sandbox"})
    assert forged.status == 403 and forged.json()["code"] == "forbidden"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in to Gatekey")).to_be_visible()
    page.goto(f"{served.url}/connections")
    assert "/signin" in page.url
    page.get_by_label("Admin API key").fill("gk_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".form-error")).to_contain_text("unknown, expired or revoked API key")
    runtime_key = served.runtime.service.create_api_key(served.actor, name="w", role="runtime")
    page.get_by_label("Admin API key").fill(runtime_key.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".form-error")).to_contain_text("admin API key")
    admin_key = served.runtime.service.create_api_key(served.actor, name="a", role="admin")
    page.get_by_label("Admin API key").fill(admin_key.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Connections", exact=True)).to_be_visible()
    used_link = page.context.new_page()
    used_link.goto(served.signin_link)
    expect(used_link.locator(".form-error")).to_contain_text("used already")


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


def test_update_credentials_keeps_the_id(page: Page, served: Served) -> None:
    created = served.runtime.service.create_connection(
        served.actor, app="local-crm", name="CRM", fields={"api_key": ACCEPTED}
    )
    page.reload()
    card = page.locator(f"#card-{created.id}")
    card.get_by_text("More").click()
    card.get_by_role("button", name="Update credentials").click()
    dialog = page.get_by_role("dialog", name="Update credentials")
    dialog.get_by_label("API key").fill("CANARYstale")
    dialog.get_by_role("button", name="Save and test").click()
    expect(dialog.locator(".form-error")).to_contain_text("API key not recognised")
    dialog.get_by_label("API key").fill(ACCEPTED)
    dialog.get_by_role("button", name="Save and test").click()
    expect(dialog).not_to_be_visible()
    expect(page.locator(f"#card-{created.id}")).to_contain_text("Active")
    assert served.runtime.service.get_connection(served.actor, created.id).version > 1


def test_a_failed_run_after_revocation_is_rerun_after_reconnect(page: Page, served: Served) -> None:
    from gatekey.runtime import run_worker

    service = served.runtime.service
    _new(page, "sandbox", "Sandbox - Ops")
    _connect_in_popup(page, "Connect Sandbox")
    connection_id = page.locator(".conn", has_text="Sandbox - Ops").get_attribute("data-id") or ""
    flow = service.create_flow(
        served.actor,
        name="Who am I",
        definition={
            "steps": [
                {
                    "id": "me",
                    "app": "sandbox",
                    "connection": connection_id,
                    "type": "http",
                    "http": {"path": "/api/me"},
                }
            ]
        },
    )
    worker = run_worker(served.runtime)
    httpx2.post(f"{served.url}/sandbox/control/revoke", trust_env=False).raise_for_status()
    served.runtime.sandbox.access.clear()  # type: ignore[union-attr]
    failed = service.trigger_run(served.actor, flow.id)
    worker.drain()

    page.goto(f"{served.url}/runs?status=failed")
    row = page.locator(f"tr[data-run='{failed.id}']")
    expect(row).to_contain_text("Failed")
    row.get_by_role("link").first.click()
    expect(page.locator(".reason")).to_contain_text("connection_inactive")
    expect(page.locator(".reason")).to_contain_text("Sandbox - Ops")
    shot(page, "failed-run")

    page.goto(f"{served.url}/connections")
    expect(page.locator(f"#card-{connection_id}")).to_contain_text("Inactive")
    expect(page.locator(f"#card-{connection_id} .usage")).to_have_text("1 flow")
    _connect_in_popup(page, "Reconnect")
    expect(page.locator(f"#card-{connection_id}")).to_contain_text("Active")

    page.goto(f"{served.url}/runs/{failed.id}")
    page.get_by_role("button", name="Re-run").click()
    page.wait_for_url(lambda url: "/runs/run_" in url and failed.id not in url)
    worker.drain()
    page.reload()
    expect(page.locator(".page-head")).to_contain_text("Succeeded")
    expect(page.locator(".page-head")).to_contain_text(f"retry of {failed.id}")
    expect(page.locator("tr[data-step='me']")).to_contain_text("ada@example.com")


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
    definition = stored_definition(service.get_app(actor, "local-crm"))
    definition.update(key="team-crm", name="Team CRM")
    service.add_app(actor, definition)
    page.reload()

    _new(page, "team-crm", "Team CRM - Main")
    page.get_by_label("API key").fill(ACCEPTED)
    page.get_by_role("button", name="Save and test").click()
    expect(page.locator(".conn", has_text="Team CRM - Main")).to_contain_text("Active")

    page.get_by_role("link", name="Apps", exact=True).click()
    expect(page.locator(".app[data-app=team-crm] .tag").first).to_have_text("This project")
    expect(page.locator(".app[data-app=local-crm] .tag").first).to_have_text("Operator")
    expect(page.locator(".app[data-app=github] h3 .tag")).to_have_count(0)

"""The Connections page in a real browser (Debian's Chromium through Playwright), and its
pages over plain HTTP."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import httpx2
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from gatekey.errors import ConnectionInactive
from gatekey.runtime import Runtime
from gatekey.server import create_app
from gatekey.service import Actor, Service
from gatekey.service.apps import stored_definition
from gatekey.store.tables import connections
from tests.fakes.apps import retiring
from tests.fakes.browser import Served, connect_in_popup, new_connection, shot
from tests.fakes.provider_server import ACCEPTED
from tests.fakes.providers import GOOD_SENDGRID, GOOD_STRIPE
from tests.fakes.servers import free_port

MORE_THAN_A_PAGE = 203  # the page shows 200 at a time


def test_an_api_key_connection_with_inline_errors(page: Page, served: Served) -> None:
    expect(page.get_by_role("heading", name="No connections yet")).to_be_visible()
    shot(page, "empty")
    new_connection(page, "local-crm", "CRM - Production")
    page.get_by_role("button", name="Save and test").click()
    form = page.locator("#new-connection")
    expect(form.locator(".field-error:visible")).to_have_text(["API key is required"])
    expect(page.get_by_label("API key")).to_have_attribute("aria-invalid", "true")
    expect(form.locator(".form-error")).to_be_hidden()
    assert "fields.api_key" not in form.inner_text()
    page.get_by_label("API key").fill("CANARYwrong")
    page.get_by_role("button", name="Save and test").click()
    expect(page.locator("#new-connection .form-error")).to_contain_text("API key not recognised")
    expect(form.locator(".field-error:visible")).to_have_count(0)
    assert served.runtime.service.connections.list(served.actor).items == []

    page.get_by_label("API key").fill(ACCEPTED)
    page.get_by_role("button", name="Save and test").click()
    card = page.locator(".conn", has_text="CRM - Production")
    expect(card).to_contain_text("Active")
    expect(card.locator(".account")).to_have_text("owner@local.test")
    expect(page.locator("#dialog-new")).not_to_be_visible()
    assert ACCEPTED not in page.content()


def test_oauth_popup_revocation_and_reconnect_on_the_same_id(page: Page, served: Served) -> None:
    new_connection(page, "sandbox", "Sandbox - Ada")
    connect_in_popup(page, "Connect Sandbox")
    card = page.locator(".conn", has_text="Sandbox - Ada")
    expect(card).to_contain_text("Active")
    expect(card.locator(".account")).to_have_text("ada@example.com")
    expect(card).to_contain_text("tasks.read")
    connection_id = card.get_attribute("data-id") or ""
    shot(page, "connected")

    service = served.runtime.service
    token = service.credentials.resolve(served.actor, connection_id).fields["access_token"]
    httpx2.post(f"{served.url}/sandbox/control/revoke", trust_env=False).raise_for_status()
    with pytest.raises(ConnectionInactive):
        service.credentials.resolve(served.actor, connection_id, stale_token=token)

    page.reload()
    card = page.locator(f"#card-{connection_id}")
    expect(card).to_contain_text("Inactive")
    expect(card.locator(".reason")).to_contain_text("Access revoked")
    attention = page.locator(".attention")
    expect(attention).to_contain_text("1 connection needs attention")
    expect(attention).to_contain_text("Sandbox - Ada")
    shot(page, "needs-attention")

    connect_in_popup(page, "Reconnect")
    card = page.locator(f"#card-{connection_id}")
    expect(card).to_contain_text("Active")
    expect(page.locator(".attention")).to_have_count(0)  # the banner went, without a reload
    assert [c.id for c in service.connections.list(served.actor).items] == [connection_id]


@pytest.mark.slow  # a browser
def test_a_reconnect_as_another_account_is_refused_then_switched_when_asked(
    page: Page, served: Served
) -> None:
    new_connection(page, "sandbox", "Sandbox - Ada")
    connect_in_popup(page, "Connect Sandbox")
    card = page.locator(".conn", has_text="Sandbox - Ada")
    connection_id = card.get_attribute("data-id") or ""
    card = page.locator(f"#card-{connection_id}")
    expect(card.locator(".account")).to_have_text("ada@example.com")

    connect_in_popup(page, "Reconnect", user="grace@example.com")
    message = card.locator(".card-message")
    expect(message).to_contain_text("grace@example.com")
    expect(message).to_contain_text("ada@example.com")
    expect(card.locator(".account")).to_have_text("ada@example.com")  # nothing changed
    shot(page, "account-mismatch")

    connect_in_popup(page, "Reconnect and switch accounts", user="grace@example.com")
    expect(page.locator(f"#card-{connection_id} .account")).to_have_text("grace@example.com")
    service = served.runtime.service
    assert service.connections.get(served.actor, connection_id).account_label == (
        "grace@example.com"
    )


@pytest.mark.slow  # a browser
def test_a_test_from_the_menu_shows_its_result_and_the_banner_follows(
    page: Page, served: Served
) -> None:
    service = served.runtime.service
    stale = service.connections.create(
        served.actor,
        app="local-crm",
        name="CRM - Stale",
        fields={"api_key": "CANARYstale"},
        validate=False,
    )
    page.reload()
    expect(page.locator(".attention")).to_have_count(0)
    card = page.locator(f"#card-{stale.id}")
    card.get_by_text("More").click()
    card.get_by_role("button", name="Test").click()
    card = page.locator(f"#card-{stale.id}")
    expect(card.locator(".card-message")).to_contain_text("API key not recognised")
    expect(card.locator(".card-message")).to_be_visible()
    expect(card.locator(".menu-items")).to_be_hidden()
    expect(card).to_contain_text("Inactive")
    expect(page.locator(".attention")).to_contain_text("1 connection needs attention")
    expect(page.locator(".attention")).to_contain_text("CRM - Stale")
    assert service.connections.get(served.actor, stale.id).status == "inactive"


@pytest.mark.slow  # a browser
def test_the_header_names_the_project_and_fits_a_phone(browser: Browser, served: Served) -> None:
    service = served.runtime.service
    made = service.connections.create(
        served.actor, app="local-crm", name="CRM", fields={"api_key": ACCEPTED}
    )
    context = browser.new_context(viewport={"width": 390, "height": 844})
    phone = context.new_page()
    phone.goto(served.signin_link)
    expect(phone.locator("#project")).to_contain_text("Project default")
    widths = phone.evaluate(
        "[document.documentElement.scrollWidth,"
        " ...[...document.querySelectorAll('.topbar nav a, .topbar button')]"
        "    .map(e => e.getBoundingClientRect().right)]"
    )
    assert max(widths) <= 390, widths
    card_id = phone.locator(f"#card-{made.id} .conn-id")
    expect(card_id).to_have_text(made.id)
    height = card_id.evaluate("e => e.getBoundingClientRect().height")
    line = card_id.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
    assert height < 1.5 * line, (height, line)  # one line: the ID does not wrap
    phone.locator("#project summary").click()
    expect(phone.locator("#project .menu-items")).to_contain_text("gatekey signin-link --project")
    shot(phone, "phone-header")
    context.close()


def test_activity_names_who_acted(runtime: Runtime) -> None:
    service = runtime.service
    project, _ = service.system.bootstrap()
    operator = Actor.operator(project.id)
    key = service.access.create_key(operator, name="ops laptop", role="admin")
    made = service.connections.create(
        operator, app="sendgrid", name="Mail", fields={"api_key": GOOD_SENDGRID}, validate=False
    )
    with TestClient(create_app(runtime), base_url="http://127.0.0.1:8040") as client:
        signed = client.post("/signin", data={"api_key": key.token}, follow_redirects=False)
        assert signed.status_code == 303
        page_html = client.get("/connections").text
        csrf = re.search(r'<meta name="csrf" content="([^"]+)">', page_html)
        assert csrf is not None
        renamed = client.post(
            f"/connections/{made.id}/rename", data={"csrf": csrf.group(1), "name": "Mail 2"}
        )
        assert renamed.json()["ok"]
        detail = client.get(f"/connections/{made.id}").text
    who = re.findall(r'<td class="who">(.*?)</td>', detail)
    assert any("ops laptop" in w for w in who), who
    assert any(w == "operator" for w in who), who  # the creation, by the local operator
    assert key.id not in detail


@pytest.mark.slow  # a server
def test_the_sandbox_in_another_project_says_how_to_get_its_client(served: Served) -> None:
    service = served.runtime.service
    other = service.system.create_project("other")
    link = service.system.create_signin_link(other.id)
    with httpx2.Client(base_url=served.url, trust_env=False, follow_redirects=True) as http:
        assert http.get(f"/signin/{link}").status_code == 200
        form = http.get("/connections/new", params={"app": "sandbox"})
        listing = http.get("/connections")
    assert form.status_code == 200
    said = html.unescape(re.sub(r"<[^>]+>", "", form.text))
    assert "No OAuth client is registered for Sandbox in project other" in said
    assert "gatekey serve --demo" in said and "gatekey signin-link" in said
    assert 'Project</span> <strong class="project-name">other</strong>' in listing.text


def test_filter_rename_and_delete(page: Page, served: Served) -> None:
    service = served.runtime.service
    for name in ("CRM - Staging", "CRM - Production"):
        service.connections.create(
            served.actor, app="local-crm", name=name, fields={"api_key": ACCEPTED}
        )
    production_id = service.connections.list(served.actor, text="production").items[0].id
    service.flows.create(
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
    broken = service.connections.list(served.actor, text="staging").items[0]
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
    assert [c.name for c in service.connections.list(served.actor).items] == ["CRM - Staging"]
    staging = page.locator(".conn", has_text="CRM - Staging")
    staging.get_by_text("More").click()
    staging.get_by_role("button", name="Delete").click()
    expect(dialog).to_contain_text("No flow uses this connection")
    dialog.get_by_role("button", name="Cancel").click()


def test_blocked_and_closed_popups_are_explained(page: Page, served: Served) -> None:
    page.add_init_script("window.open = function () { return null; }")
    page.reload()
    new_connection(page, "sandbox", "Sandbox - Blocked")
    page.get_by_role("button", name="Connect Sandbox").click()
    expect(page.locator("#new-connection .form-error")).to_contain_text("blocked the sign-in")

    page.goto(f"{served.url}/connections")  # a page without the override
    fresh = page.context.new_page()
    fresh.goto(f"{served.url}/connections")
    new_connection(fresh, "sandbox", "Sandbox - Closed")
    with fresh.expect_popup() as opened:
        fresh.get_by_role("button", name="Connect Sandbox").click()
    opened.value.close()
    expect(fresh.locator("#new-connection .form-error")).to_contain_text(
        "closed before you finished", timeout=10_000
    )
    assert served.runtime.service.connections.list(served.actor).items == []


@pytest.mark.slow  # a browser
def test_save_without_checking_and_the_offer_when_the_provider_cannot_be_reached(
    page: Page, served: Served
) -> None:
    service, actor = served.runtime.service, served.actor
    definition = stored_definition(service.apps.get(actor, "local-crm"))
    definition.update(key="far-crm", name="Far CRM", base_url=f"http://127.0.0.1:{free_port()}")
    service.apps.add(actor, definition)  # nothing listens there: it cannot be reached
    later = service.connections.create(
        actor, app="local-crm", name="CRM - Later", fields={"api_key": ACCEPTED}, validate=False
    )
    page.reload()
    card = page.locator(f"#card-{later.id}")
    expect(card.locator(".badge")).to_contain_text("Active · not verified")
    card.get_by_text("More").click()
    card.get_by_role("button", name="Test").click()
    badge = page.locator(f"#card-{later.id} .badge")
    expect(badge).not_to_contain_text("not verified")  # without a reload
    expect(badge).to_contain_text("Active")
    assert service.connections.get(actor, later.id).verified_at is not None

    new_connection(page, "local-crm", "CRM - Unchecked")
    page.get_by_label("API key").fill("CANARYstale")  # one the provider would refuse
    page.get_by_label("Save without checking").check()
    page.get_by_role("button", name="Save without checking").click()
    card = page.locator(".conn", has_text="CRM - Unchecked")
    expect(card).to_contain_text("not verified")
    unchecked = service.connections.list(actor, text="Unchecked").items[0]
    assert unchecked.verified_at is None

    new_connection(page, "far-crm", "Far - Main")
    page.get_by_label("API key").fill(ACCEPTED)
    page.get_by_role("button", name="Save and test").click()
    error = page.locator("#new-connection .form-error")
    expect(error).to_contain_text("could not reach 127.0.0.1: connection refused")
    expect(error).to_contain_text("or save it without checking (with the Save without checking")
    assert service.connections.list(actor, text="Far").items == []
    error.get_by_role("button", name="Save without checking").click()
    expect(page.locator(".conn", has_text="Far - Main")).to_contain_text("not verified")
    assert service.connections.list(actor, text="Far").items[0].verified_at is None


def test_update_credentials_keeps_the_id(page: Page, served: Served) -> None:
    created = served.runtime.service.connections.create(
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
    assert served.runtime.service.connections.get(served.actor, created.id).version > 1


def _many(service: Service, actor: Actor, app: str, key: str, count: int) -> list[str]:
    """Create ``count`` connections named ``<app> 000``, ``<app> 001``...; return their ids."""
    return [
        service.connections.create(
            actor, app=app, name=f"{app} {i:03}", fields={"api_key": key}, validate=False
        ).id
        for i in range(count)
    ]


def _cards(page_html: str) -> list[str]:
    return re.findall(
        r'<article class="conn card[^"]*" id="card-[^"]+" data-id="([^"]+)"', page_html
    )


def _link(page_html: str, text: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)"[^>]*>{text}</a>', page_html)
    return html.unescape(found.group(1)) if found else None


def test_more_than_a_page_of_connections_pages_over_plain_http(runtime: Runtime) -> None:
    service = runtime.service
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    made = _many(service, actor, "sendgrid", GOOD_SENDGRID, MORE_THAN_A_PAGE - 1)
    last = service.connections.create(
        actor, app="stripe", name="Billing", fields={"api_key": GOOD_STRIPE}, validate=False
    )
    made.append(last.id)
    with TestClient(create_app(runtime)) as client:
        link = service.system.create_signin_link(project.id)
        assert client.get(f"/signin/{link}", follow_redirects=False).status_code == 303

        first = client.get("/connections")
        assert first.status_code == 200
        assert _cards(first.text) == made[:200]
        assert _link(first.text, "First page") is None
        app_filter = re.search(r'<select id="filter-app".*?</select>', first.text, re.S)
        assert app_filter is not None
        assert 'value="stripe"' in app_filter.group(0)  # its only connection is on page two
        after = _link(first.text, "Next page")
        assert after is not None and after.startswith("/connections?cursor=")

        second = client.get(after)
        assert _cards(second.text) == made[200:]
        assert "Billing" in second.text
        assert _link(second.text, "Next page") is None
        assert _link(second.text, "First page") == "/connections"

        searched = client.get("/connections", params={"q": "sendgrid"})
        after = _link(searched.text, "Next page")
        assert after is not None and "q=sendgrid" in after
        assert _cards(client.get(after).text) == made[200:-1]

        assert _cards(client.get("/connections", params={"cursor": "not-one"}).text) == made[:200]


def test_more_than_a_page_needing_attention_links_to_all_of_them(runtime: Runtime) -> None:
    service = runtime.service
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    _many(service, actor, "sendgrid", GOOD_SENDGRID, MORE_THAN_A_PAGE)
    with service.context.db.write() as conn:
        conn.execute(
            update(connections)
            .where(connections.c.project_id == project.id)
            .values(status="inactive", status_reason="invalid_credentials")
        )
    with TestClient(create_app(runtime)) as client:
        link = service.system.create_signin_link(project.id)
        client.get(f"/signin/{link}", follow_redirects=False)
        listed = client.get("/connections").text
    assert "200+ connections need attention" in listed
    assert _link(listed, "Show every inactive connection") == "/connections?status=inactive"


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_the_next_page_link_in_a_browser(
    browser: Browser, served: Served, javascript: bool
) -> None:
    _many(served.runtime.service, served.actor, "local-crm", ACCEPTED, MORE_THAN_A_PAGE)
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.goto(served.signin_link)
    cards = page.locator(".cards .conn")
    expect(cards).to_have_count(200)
    expect(cards.first).to_contain_text("local-crm 000")
    page.get_by_role("link", name="Next page").click()
    expect(cards).to_have_count(MORE_THAN_A_PAGE - 200)
    expect(cards.first).to_contain_text("local-crm 200")
    expect(page.get_by_role("link", name="Next page")).to_have_count(0)
    shot(page, f"second-page-{'script' if javascript else 'no-script'}")
    page.get_by_role("link", name="First page").click()
    expect(cards).to_have_count(200)
    context.close()


def test_the_connection_page_shows_its_warnings(runtime: Runtime) -> None:
    service = runtime.service
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    service.apps.add(actor, retiring(sunset="2099-04-30"))
    made = service.connections.create(
        actor,
        app="helpdesk",
        name="Desk",
        auth_kind="api_key",
        fields={"api_key": GOOD_SENDGRID},
        validate=False,
    )
    with service.context.db.write() as conn:
        conn.execute(
            update(connections)
            .where(connections.c.id == made.id)
            .values(created_at=made.created_at - timedelta(days=20))
        )
    with TestClient(create_app(runtime)) as client:
        client.get(f"/signin/{service.system.create_signin_link(project.id)}")
        detail = client.get(f"/connections/{made.id}").text
    shown = dict(re.findall(r'<p class="warning" data-code="(\w+)">(.*?)</p>', detail))
    assert set(shown) == {"method_deprecated", "idle_expiry"}
    assert shown["method_deprecated"].startswith(
        "Helpdesk API token connections stop working on 2099-04-30; connect with OAuth instead"
    )
    assert 'href="https://docs.acme.test/oauth-migration"' in shown["method_deprecated"]
    assert html.unescape(shown["idle_expiry"]).startswith("unused since ")
    assert "deactivates API token credentials unused for 30 days (on " in shown["idle_expiry"]

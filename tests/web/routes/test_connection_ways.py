"""An app with several ways to connect, on the New connection form in a real browser: the
form offers each (its label, or its kind's name), choosing one loads that way's fields in
place with the name kept, and the connection is made that way; a way the app lacks is a
clear 400. Gmail's service-account method is offered beside its OAuth2 consent."""

from __future__ import annotations

import copy

import httpx2
from playwright.sync_api import Page, expect

from tests.fakes.apps import acme
from tests.fakes.browser import Served, new_connection

PASSWORD = "CANARY-basic-password-7d1"


def _two_ways() -> dict[str, object]:
    definition = acme()
    methods = definition["auth"]
    basic = copy.deepcopy(methods[0])
    basic.update(
        kind="basic",
        label="Username and password",
        fields={
            "type": "object",
            "required": ["username", "password"],
            "properties": {
                "username": {"title": "Username"},
                "password": {"title": "Password", "secret": True},
            },
        },
        apply=[{"type": "basic", "username": "{username}", "password": "{password}"}],
    )
    definition["auth"] = [*methods, basic]
    return definition


def test_choosing_another_way_loads_its_fields_and_connects_that_way(
    page: Page, served: Served
) -> None:
    service = served.runtime.service
    service.apps.add(served.actor, _two_ways())
    page.reload()
    new_connection(page, "acme-crm", "Acme - the robot")
    form = page.locator("#new-connection")
    ways = form.get_by_role("group", name="How to connect")
    expect(ways.get_by_role("radio", name="API key")).to_be_checked()
    expect(form.get_by_role("textbox", name="API key", exact=True)).to_be_visible()

    ways.get_by_role("radio", name="Username and password").check()
    expect(form.get_by_role("textbox", name="Username", exact=True)).to_be_visible()
    expect(form.get_by_role("textbox", name="API key", exact=True)).to_have_count(0)
    expect(form.get_by_role("textbox", name="Name", exact=True)).to_have_value("Acme - the robot")
    password = form.locator("#field-password")  # a password input has no textbox role
    expect(password).to_have_attribute("type", "password")
    form.get_by_role("textbox", name="Username", exact=True).fill("robot")
    password.fill(PASSWORD)
    form.get_by_label("Save without checking").check()
    form.get_by_role("button", name="Save without checking").click()
    expect(page.locator(".conn", has_text="Acme - the robot")).to_be_visible()
    made = service.connections.list(served.actor).items
    assert [(c.name, c.auth_kind) for c in made] == [("Acme - the robot", "basic")]
    assert PASSWORD not in page.content()


def test_gmail_offers_its_service_account_and_refuses_a_way_it_lacks(served: Served) -> None:
    link = served.runtime.service.system.create_signin_link(served.actor.project_id)
    with httpx2.Client(base_url=served.url, trust_env=False, follow_redirects=True) as http:
        assert http.get(f"/signin/{link}").status_code == 200
        first = http.get("/connections/new", params={"app": "gmail"})
        chosen = http.get("/connections/new", params={"app": "gmail", "auth_kind": "jwt_bearer"})
        lacking = http.get("/connections/new", params={"app": "gmail", "auth_kind": "aws_sigv4"})
    assert first.status_code == 200 and "How to connect" in first.text
    assert 'value="jwt_bearer"' in first.text and "No OAuth client is registered" in first.text
    assert chosen.status_code == 200 and "No OAuth client" not in chosen.text
    assert 'name="field.service_account_key"' in chosen.text and 'type="file"' in chosen.text
    assert lacking.status_code == 400 and "cannot be connected that way" in lacking.text

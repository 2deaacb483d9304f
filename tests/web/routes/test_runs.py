"""The Runs pages: a failed run re-run after reconnecting (in a real browser), and a step's
printed output, masked."""

from __future__ import annotations

import httpx2
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from gatekey.runtime import Runtime
from gatekey.server import create_app
from gatekey.service import Actor
from tests.fakes.browser import Served, connect_in_popup, new_connection, shot
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders


def test_a_failed_run_after_revocation_is_rerun_after_reconnect(page: Page, served: Served) -> None:
    from gatekey.runtime import run_worker

    service = served.runtime.service
    new_connection(page, "sandbox", "Sandbox - Ops")
    connect_in_popup(page, "Connect Sandbox")
    connection_id = page.locator(".conn", has_text="Sandbox - Ops").get_attribute("data-id") or ""
    me = {"app": "sandbox", "connection": connection_id, "type": "http"}
    me["http"] = {"path": "/api/me"}
    flow = service.flows.create(
        served.actor,
        name="Who am I",
        definition={"steps": [{"id": "me", **me}, {"id": "again", **me}]},
    )
    worker = run_worker(served.runtime)
    httpx2.post(f"{served.url}/sandbox/control/revoke", trust_env=False).raise_for_status()
    served.runtime.sandbox.access.clear()  # type: ignore[union-attr]
    failed = service.runs.trigger(served.actor, flow.id)
    worker.drain()

    page.goto(f"{served.url}/runs?status=failed")
    row = page.locator(f"tr[data-run='{failed.id}']")
    expect(row).to_contain_text("Failed")
    row.get_by_role("link").first.click()
    expect(page.locator(".reason")).to_contain_text("connection_inactive")
    expect(page.locator(".reason")).to_contain_text("Sandbox - Ops")
    expect(page.locator("tr[data-step='again']")).to_contain_text("Skipped")
    expect(page.locator("tr[data-step='again']")).not_to_contain_text("Pending")
    rerun = page.get_by_role("button", name="Re-run")
    expect(rerun).to_be_disabled()
    expect(page.locator(".fix")).to_contain_text("Sandbox - Ops is inactive")
    shot(page, "failed-run")

    connect_in_popup(page, "Reconnect")  # from the run page itself
    expect(rerun).to_be_enabled()  # without a reload
    expect(page.locator(".fix")).to_contain_text("active again")
    assert service.connections.get(served.actor, connection_id).status == "active"
    rerun.click()
    page.wait_for_url(lambda url: "/runs/run_" in url and failed.id not in url)
    worker.drain()
    expect(page.locator(".page-head")).to_contain_text("Succeeded")  # followed to its end
    expect(page.locator(".page-head")).to_contain_text(f"retry of {failed.id}")
    expect(page.locator("tr[data-step='me']")).to_contain_text("ada@example.com")
    expect(page.locator("tr[data-step='again']")).to_contain_text("Succeeded")


def test_the_run_page_shows_a_steps_printed_output_masked(
    runtime: Runtime, providers: FakeProviders
) -> None:
    service = runtime.service
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    service.connections.create(actor, app="sendgrid", name="SG", fields={"api_key": GOOD_SENDGRID})
    step = {"id": "code", "app": "sendgrid", "type": "python", "python": {"callable": "snoop"}}
    flow = service.flows.create(actor, name="Prints", definition={"steps": [step]})
    run_id = service.runs.trigger(actor, flow.id, {"paths": []}).id
    runtime.engine.work_once("w1")
    with TestClient(create_app(runtime)) as client:
        link = service.system.create_signin_link(project.id)
        assert client.get(f"/signin/{link}", follow_redirects=False).status_code == 303
        page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert "Printed output" in page.text and "credential: ••••" in page.text
    assert GOOD_SENDGRID not in page.text

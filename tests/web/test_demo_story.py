"""The whole demo story, as the README tells it, from a fresh ``GATEKEY_HOME``: a real
``gatekey serve --demo`` process, its CLI, and Debian's Chromium.

Sign in with a link from ``gatekey signin-link``, connect the Sandbox in the popup, create the
example flow from ``examples/whoami.yaml`` with the CLI and run it from the Flows page, revoke
the grant in the sandbox (``POST /sandbox/control/revoke``, nothing else), run it again: the run
fails naming the connection, and the card turns Inactive "Access revoked" under the "needs
attention" banner. Reconnect from the banner (same ID, same account): the banner is
gone without a reload, and Re-run succeeds."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.fakes.browser import connect_in_popup, new_connection, shot
from tests.fakes.servers import free_port

pytestmark = pytest.mark.slow  # a server process and a browser

ROOT = Path(__file__).resolve().parents[2]


class Demo:
    """``gatekey serve --demo`` on a fresh home, and the CLI on the same home."""

    def __init__(self, home: Path, port: int) -> None:
        self.home, self.port = home, port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith("GATEKEY_") and k != "HOME"
        }
        self.env.update(GATEKEY_HOME=str(home), HOME=str(home), GATEKEY_PORT=str(port))
        self.env["GATEKEY_RUN_POLL_INTERVAL"] = "0.1"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "gatekey", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(tmp_path / "home", free_port())
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gatekey", "serve", "--demo"],
        env=running.env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60  # a hang guard only
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx2.get(f"{running.url}/healthz", trust_env=False).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.2)
        assert server.poll() is None, (tmp_path / "serve.log").read_text()
        yield running
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _signed_in(browser: Browser, demo: Demo) -> Page:
    link = re.search(r"http://\S+/signin/\S+", demo.cli("signin-link"))
    assert link, "gatekey signin-link printed no link"
    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    page.goto(link.group(0))
    assert page.url.endswith("/connections"), page.url
    return page


def _run_from_the_flows_page(page: Page, demo: Demo, flow_id: str) -> str:
    page.goto(f"{demo.url}/flows")
    page.locator(f"[data-flow='{flow_id}']").get_by_role("button", name="Run").click()
    page.wait_for_url(re.compile(r"/runs/run_"))
    run_id = page.url.rsplit("/", 1)[1]
    _wait_for_end(page, demo, run_id)
    return run_id


def _wait_for_end(page: Page, demo: Demo, run_id: str) -> None:
    deadline = time.monotonic() + 60  # a hang guard only: the server's workers run it
    while time.monotonic() < deadline:
        page.goto(f"{demo.url}/runs/{run_id}")
        head = page.locator(".page-head").inner_text()
        if "Succeeded" in head or "Failed" in head:
            return
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not end")


def test_the_demo_story_from_a_fresh_home(browser: Browser, demo: Demo) -> None:
    page = _signed_in(browser, demo)

    new_connection(page, "sandbox", "Sandbox - Ada")
    connect_in_popup(page, "Connect Sandbox")
    card = page.locator(".conn", has_text="Sandbox - Ada")
    expect(card).to_contain_text("Active")
    expect(card.locator(".account")).to_have_text("ada@example.com")
    connection_id = card.get_attribute("data-id") or ""

    created = demo.cli("flows", "create", "--name", "Who am I", "--file", "examples/whoami.yaml")
    flow_id = re.search(r"flow_[0-9A-Z]+", created)
    assert flow_id, created
    first = _run_from_the_flows_page(page, demo, flow_id.group(0))
    expect(page.locator(".page-head")).to_contain_text("Succeeded")
    expect(page.locator("tr[data-step='me']")).to_contain_text("ada@example.com")

    httpx2.post(f"{demo.url}/sandbox/control/revoke", trust_env=False).raise_for_status()
    failed = _run_from_the_flows_page(page, demo, flow_id.group(0))
    assert failed != first
    expect(page.locator(".page-head")).to_contain_text("Failed")
    expect(page.locator(".reason")).to_contain_text("Sandbox - Ada")
    rerun = page.get_by_role("button", name="Re-run")
    expect(rerun).to_be_disabled()
    shot(page, "demo-failed-run")

    page.goto(f"{demo.url}/connections")
    card = page.locator(f"#card-{connection_id}")
    expect(card).to_contain_text("Inactive")
    expect(card.locator(".reason")).to_contain_text("Access revoked")
    expect(page.locator(".attention")).to_contain_text("Sandbox - Ada")

    connect_in_popup(page, "Reconnect")  # the banner's one-click Reconnect
    expect(page.locator(f"#card-{connection_id}")).to_contain_text("Active")
    expect(page.locator(f"#card-{connection_id} .account")).to_have_text("ada@example.com")
    expect(page.locator(".attention")).to_have_count(0)

    page.goto(f"{demo.url}/runs/{failed}")
    page.get_by_role("button", name="Re-run").click()
    page.wait_for_url(lambda url: "/runs/run_" in url and failed not in url)
    retried = page.url.rsplit("/", 1)[1]
    _wait_for_end(page, demo, retried)
    expect(page.locator(".page-head")).to_contain_text("Succeeded")
    expect(page.locator(".page-head")).to_contain_text(f"retry of {failed}")
    listed = demo.cli("connections", "list", "--json")
    assert listed.count('"id"') == 1 and connection_id in listed

"""Debian's Chromium for the browser tests (the ``browser`` fixture, which a conftest imports)
and what the page tests do in it, named as a person would say it."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from gatekey.runtime import Runtime
from gatekey.service import Actor

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("GATEKEY_TEST_CHROMIUM", "/usr/bin/chromium")
WAIT_MS = 20_000
"""How long an ``expect`` waits for the page to get there (Playwright's default is 5 s): a bound
against a hang, not a timing claim. On CI's loaded two cores a save that asks a provider has
taken longer than 5 s (``test_update_credentials_keeps_the_id`` on the PostgreSQL run)."""


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium under Playwright. While it is open, Playwright's event loop counts as
    running in this thread (``asyncio.run`` refuses to start), so tests that need that run
    before or after it, not in between."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(
            f"browser tests need Debian's Chromium at {CHROMIUM}: apt-get install -y chromium "
            "(or set GATEKEY_TEST_CHROMIUM)"
        )
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@dataclass
class Served:
    url: str
    runtime: Runtime
    actor: Actor
    signin_link: str


def shot(page: Page, name: str) -> None:
    """Save a screenshot of a main state as a test artifact (``artifacts/screenshots``)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{re.sub(r'[^a-z0-9-]', '-', name)}.png"))


def new_connection(page: Page, app: str, name: str) -> None:
    """Open "New connection", pick ``app`` and type ``name``; the app's form is then shown."""
    page.get_by_role("button", name="New connection").first.click()
    dialog = page.get_by_role("dialog", name="New connection")
    dialog.get_by_label("App").select_option(app)
    page.locator("#new-connection").wait_for()
    dialog.get_by_label("Name", exact=True).fill(name)


def connect_in_popup(page: Page, button_name: str, user: str = "ada@example.com") -> None:
    """Click ``button_name``, allow as ``user`` in the sandbox's popup, wait for it to close."""
    with page.expect_popup() as opened:
        page.get_by_role("button", name=button_name).first.click()
    popup = opened.value
    popup.get_by_label("Account").fill(user)
    with popup.expect_event("close", timeout=15_000):
        popup.get_by_role("button", name="Allow").click()

"""A served Gatekey (demo mode: the sandbox inside) and Debian's Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from gatekey.runtime import install_demo, open_runtime
from gatekey.server import create_app
from gatekey.service import Actor
from gatekey.settings import Settings
from tests.fakes.browser import Served
from tests.fakes.browser import browser as browser  # the fixture
from tests.fakes.keys import MASTER_KEY
from tests.fakes.provider_server import provider_server
from tests.fakes.servers import free_port, serve


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[Served]:
    port = free_port()
    with provider_server(tmp_path / "apps"):
        settings = Settings(
            home=tmp_path / "home",
            database_url=database_url,
            master_keys=MASTER_KEY,
            public_url=f"http://127.0.0.1:{port}",
            demo=True,
            apps_dir=tmp_path / "apps",
            audit_flush_interval=0.05,
        )
        runtime = open_runtime(settings)
        project, _ = runtime.service.system.bootstrap()
        install_demo(runtime, project.id)
        link = runtime.service.system.create_signin_link(project.id)
        with serve(create_app(runtime), port) as url:
            yield Served(url, runtime, Actor.operator(project.id), f"{url}/signin/{link}")
        runtime.close()


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    signed_in = context.new_page()
    signed_in.goto(served.signin_link)
    assert signed_in.url.endswith("/connections")
    yield signed_in
    context.close()

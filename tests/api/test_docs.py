"""The API's reference pages work offline: every script and style comes from Gatekey, and the
page's policy allows nothing from anywhere else."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route

from gatekey.api import docs
from gatekey.runtime import Runtime
from gatekey.server import create_app
from tests.fakes.browser import chromium
from tests.fakes.servers import serve

PAGES = (docs.DOCS, docs.REDOC)


def _operations(spec: dict[str, Any]) -> list[str]:
    return [op["summary"] for path in spec["paths"].values() for op in path.values()]


@pytest.mark.parametrize("path", PAGES)
def test_a_docs_page_names_no_other_origin(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, "the page loads its renderer"
    assert all(source.startswith("/") for source in sources), sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert asset.headers["cache-control"] == "no-cache", "revalidated, not fetched again"


@pytest.mark.parametrize("path", PAGES)
def test_a_docs_page_allows_only_gatekey_s_origin(client: TestClient, path: str) -> None:
    policy = client.get(path).headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    for name, sources in directives.items():
        for source in sources.split():
            assert source in ("'self'", "'none'", "'unsafe-inline'", "data:", "blob:") or (
                source.startswith("'sha256-")
            ), f"{name} allows {source}"
    assert "'unsafe-inline'" not in directives["script-src"]


def test_swagger_ui_s_inline_script_is_allowed_by_its_hash() -> None:
    page = "<script src='/a.js'></script><script>start()</script>"
    policy = docs.content_security_policy(page)
    # echo -n 'start()' | openssl dgst -sha256 -binary | base64
    assert "script-src 'self' 'sha256-DIm7WJS6ZKDYe5qFLPy+h4JFI9Bol5QmYC57mt3Fb00='" in policy


def test_fastapi_s_cdn_pages_are_gone(client: TestClient) -> None:
    page = client.get(docs.DOCS).text
    assert "cdn.jsdelivr.net" not in page
    assert "fastapi.tiangolo.com" not in page
    assert "cdn.jsdelivr.net" not in client.get(docs.REDOC).text


@dataclass
class Offline:
    """A browser page cut off from every origin but the served Gatekey's."""

    page: Page
    url: str
    operations: list[str]
    left: list[str] = field(default_factory=list)
    """Requests to another origin (refused)."""
    refused: list[str] = field(default_factory=list)
    """What the page's policy refused, as the console reports it."""

    def open(self, path: str) -> Page:
        self.page.goto(f"{self.url}{path}")
        return self.page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """This module's own: closed before the next module's tests, which need ``asyncio.run``."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def offline(browser: Browser, runtime: Runtime) -> Iterator[Offline]:
    context = browser.new_context()
    app = create_app(runtime)
    with serve(app) as url:
        offline = Offline(context.new_page(), url, _operations(app.openapi()))

        def only_gatekey(route: Route) -> None:
            if route.request.url.startswith(url + "/"):
                route.continue_()
            else:
                offline.left.append(route.request.url)
                route.abort()

        context.route("**/*", only_gatekey)
        offline.page.on(
            "console",
            lambda m: offline.refused.append(m.text) if "Security Policy" in m.text else None,
        )
        yield offline
    context.close()


@pytest.mark.slow
def test_swagger_ui_renders_every_operation_offline(offline: Offline) -> None:
    page = offline.open(docs.DOCS)
    page.get_by_text("/api/v1/connections", exact=True).first.wait_for()
    assert page.locator(".opblock").count() == len(offline.operations)
    page.get_by_text("Create Connection", exact=True).click()
    page.get_by_text("skip_test").first.wait_for()  # the request body's schema, expanded
    assert offline.left == []
    assert offline.refused == []


@pytest.mark.slow
def test_redoc_renders_every_operation_offline(offline: Offline) -> None:
    page = offline.open(docs.REDOC)
    page.locator("h2", has_text="Create Connection").wait_for()
    headings = {text.strip() for text in page.locator("h2").all_inner_texts()}
    assert set(offline.operations) <= headings, set(offline.operations) - headings
    assert offline.left == []
    assert all("cdn.redoc.ly" in text for text in offline.refused), "only ReDoc's logo"

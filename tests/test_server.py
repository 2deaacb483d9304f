"""The ASGI root: the API, the pages and the sandbox on one app; the lifespan runs the
background workers; routes get the settings through a dependency."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gatekey.api.deps import get_settings
from gatekey.runtime import Runtime, open_runtime
from gatekey.server import create_app
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders

LOOPS = ("gatekey-runs", "gatekey-webhooks", "gatekey-refresher")


def _loops() -> set[str]:
    """The background loops with a live thread (the usage writer runs in every process)."""
    names = {t.name for t in threading.enumerate()}
    return {loop for loop in LOOPS if any(n.startswith(loop) for n in names)}


@pytest.fixture
def admin(service: Service, actor: Actor) -> dict[str, str]:
    key = service.access.create_key(actor, name="admin", role="admin")
    return {"Authorization": f"Bearer {key.token}"}


def _flow(client: TestClient, admin: dict[str, str]) -> str:
    body = {"app": "sendgrid", "name": "SendGrid", "fields": {"api_key": GOOD_SENDGRID}}
    cid = client.post("/api/v1/connections", json=body, headers=admin).json()["id"]
    step = {"id": "s", "app": "sendgrid", "connection": cid, "type": "http"}
    definition = {"steps": [{**step, "http": {"path": "/v3/scopes"}}]}
    flow = client.post("/api/v1/flows", json={"name": "F", "definition": definition}, headers=admin)
    return str(flow.json()["id"])


def test_the_lifespan_runs_the_workers_while_it_serves(
    runtime: Runtime, admin: dict[str, str]
) -> None:
    assert not _loops()
    with TestClient(create_app(runtime, run_workers=True)) as client:
        assert _loops() == set(LOOPS)
        flow_id = _flow(client, admin)
        queued = client.post(f"/api/v1/flows/{flow_id}/runs", json={}, headers=admin).json()
        deadline = time.monotonic() + 30  # a hang guard only
        while time.monotonic() < deadline:
            run = client.get(f"/api/v1/runs/{queued['id']}", headers=admin).json()
            if run["status"] not in ("queued", "running"):
                break
            time.sleep(0.05)
        assert run["status"] == "succeeded", "a run worker of the server executed it"
    assert not _loops(), "shutdown stops every loop"


def test_without_workers_a_queued_run_waits(runtime: Runtime, admin: dict[str, str]) -> None:
    with TestClient(create_app(runtime)) as client:
        assert not _loops()
        flow_id = _flow(client, admin)
        queued = client.post(f"/api/v1/flows/{flow_id}/runs", json={}, headers=admin).json()
        time.sleep(0.3)
        run = client.get(f"/api/v1/runs/{queued['id']}", headers=admin).json()
        assert run["status"] == "queued"


def test_one_app_serves_the_api_the_pages_and_the_assets(
    runtime: Runtime, admin: dict[str, str]
) -> None:
    with TestClient(create_app(runtime)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 200
        assert client.get("/api/v1/apps", headers=admin).status_code == 200
        assert client.get("/api/v1/apps").json()["code"] == "unauthenticated"
        page = client.get("/connections", follow_redirects=False)
        assert (page.status_code, page.headers["location"]) == (303, "/signin?next=/connections")
        assert client.get("/signin").status_code == 200
        assert client.get("/static/app.css").status_code == 200
        assert client.get("/sandbox/authorize").status_code == 404, "only in demo mode"
        schema = client.get("/openapi.json").json()
        assert "/api/v1/connections" in schema["paths"]
        assert "4XX" in schema["paths"]["/api/v1/connections"]["get"]["responses"]


@pytest.fixture
def demo(settings: Settings, providers: FakeProviders) -> Iterator[Runtime]:
    runtime = open_runtime(
        settings.model_copy(update={"demo": True}), transport=providers.transport()
    )
    yield runtime
    runtime.close()


def test_demo_mode_mounts_the_sandbox(demo: Runtime) -> None:
    with TestClient(create_app(demo)) as client:
        answer = client.get("/sandbox/api/me")
        assert answer.status_code == 401


def test_routes_read_the_settings_through_the_dependency(
    runtime: Runtime, admin: dict[str, str]
) -> None:
    app = create_app(runtime)
    elsewhere = runtime.settings.model_copy(update={"public_url": "https://gatekey.example.com"})
    app.dependency_overrides[get_settings] = lambda: elsewhere
    with TestClient(app) as client:
        flow_id = _flow(client, admin)
        url = client.post(f"/api/v1/flows/{flow_id}/webhook", headers=admin).json()["url"]
        assert url.startswith(f"https://gatekey.example.com/hooks/{flow_id}/")

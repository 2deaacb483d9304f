"""``/healthz``, ``/readyz`` and ``/metrics``: what an operator's probes and Prometheus read."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from gatekey.runtime import Runtime
from tests.fakes.api import MISSING, create_sendgrid
from tests.fakes.providers import GOOD_SENDGRID

_LABELS = re.compile(r'(\w+)="([^"]*)"')


def test_liveness_and_readiness(client: TestClient, runtime: Runtime) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "checks": {"database": "ok", "master_keys": "ok", "audit_writer": "ok"},
    }
    runtime.service.context.audit.close()
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json()["checks"]["audit_writer"] == "stopped"


def test_metrics_count_outcomes_without_ids_or_secrets(
    client: TestClient,
    admin: dict[str, str],
    worker: dict[str, str],
) -> None:
    cid = create_sendgrid(client, admin).json()["id"]
    for _ in range(2):
        client.post(f"/api/v1/connections/{cid}/credentials", headers=worker)
    client.post(f"/api/v1/connections/{MISSING}/credentials", headers=worker)

    response = client.get("/metrics")
    text = response.text

    assert response.headers["content-type"].startswith("text/plain")
    assert 'gatekey_credential_resolutions_total{outcome="ok"} 2.0' in text
    assert 'gatekey_credential_resolutions_total{outcome="not_found"} 1.0' in text
    again = client.get("/metrics").text  # a scrape reads the counts, never moves them
    assert 'gatekey_credential_resolutions_total{outcome="ok"} 2.0' in again
    client.post(f"/api/v1/connections/{cid}/credentials", headers=worker)
    assert 'gatekey_credential_resolutions_total{outcome="ok"} 3.0' in client.get("/metrics").text
    assert 'gatekey_connections{app="sendgrid",status="active"} 1.0' in text
    assert "gatekey_connections_inactive 0.0" in text
    assert 'gatekey_provider_request_seconds_count{app="sendgrid",operation="test"} 1.0' in text
    labels = {(k, v) for k, v in _LABELS.findall(text)}
    assert {k for k, _ in labels} <= {"outcome", "app", "status", "operation", "limit", "le"}
    assert not any(v.startswith(("conn_", "key_", "proj_")) for _, v in labels)
    assert GOOD_SENDGRID not in text and "CANARY" not in text

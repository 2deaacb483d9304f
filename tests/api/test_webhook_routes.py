"""``/api/v1/webhooks`` over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_webhooks_over_http(
    client: TestClient, admin: dict[str, str], worker: dict[str, str]
) -> None:
    body = {"url": "https://hooks.example.com/gatekey", "events": ["connection.inactive"]}
    created = client.post("/api/v1/webhooks", json=body, headers=admin)
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["connection.inactive"]

    listed = client.get("/api/v1/webhooks", headers=admin)
    assert [w["id"] for w in listed.json()] == [hook["id"]]
    assert hook["secret"] not in listed.text
    assert client.post(f"/api/v1/webhooks/{hook['id']}/ping", headers=admin).status_code == 202
    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin).json()
    assert [(d["event_type"], d["status"]) for d in log] == [("webhook.ping", "pending")]

    bad = client.post("/api/v1/webhooks", json={"url": "gopher://x"}, headers=admin)
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")
    assert client.get("/api/v1/webhooks", headers=worker).status_code == 403
    assert client.delete(f"/api/v1/webhooks/{hook['id']}", headers=admin).status_code == 204
    gone = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin)
    assert gone.status_code == 404

"""Canary secrets must never show up outside the credentials endpoint: not in the SQLite file or
its WAL, not in any log line at DEBUG, not in any list or get response."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from gatekey.runtime import open_runtime
from gatekey.server import create_app
from gatekey.settings import Settings
from tests.fakes.keys import MASTER_KEY
from tests.fakes.providers import FakeProviders
from tests.fakes.sandbox import CLIENT_ID, CLIENT_SECRET, Sandbox

CANARIES = {
    "sendgrid": ("SG.canary0000.CANARYsg7f3k9q2m", {"api_key": "SG.canary0000.CANARYsg7f3k9q2m"}),
    "twilio": (
        "CANARYtw8x2v5n1b",
        {"account_sid": "AC" + "ab" * 16, "auth_token": "CANARYtw8x2v5n1b"},
    ),
    "zendesk": ("CANARYzd4h6j8k0l", {"email": "ops@acme.test", "api_token": "CANARYzd4h6j8k0l"}),
}


def test_canaries_never_leak(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    providers = FakeProviders(
        accepted={CANARIES["sendgrid"][0]},
        basic_accepted={
            ("AC" + "ab" * 16, "CANARYtw8x2v5n1b"),
            ("ops@acme.test/token", "CANARYzd4h6j8k0l"),
        },
    )
    settings = Settings(home=tmp_path, master_keys=MASTER_KEY, audit_flush_interval=0.05)
    runtime = open_runtime(settings, transport=providers.transport())
    service = runtime.service
    _project, key = service.system.bootstrap()
    assert key is not None
    headers = {"Authorization": f"Bearer {key.token}"}
    seen: list[str] = []
    with TestClient(create_app(runtime)) as client:
        ids = []
        for app, (_, fields) in CANARIES.items():
            config = {"subdomain": "acme"} if app == "zendesk" else {}
            response = client.post(
                "/api/v1/connections",
                headers=headers,
                json={
                    "app": app,
                    "name": f"{app} canary",
                    "fields": fields,
                    "config": config,
                    **({"auth_kind": "custom"} if app == "zendesk" else {}),
                },
            )
            assert response.status_code == 201, response.text
            seen.append(response.text)
            ids.append(response.json()["id"])
        bad = client.post(
            "/api/v1/connections",
            headers=headers,
            json={"app": "sendgrid", "name": "bad", "fields": {"api_key": "SG.x.CANARYrejected01"}},
        )
        seen.append(bad.text)
        for cid in ids:
            seen.append(client.get(f"/api/v1/connections/{cid}", headers=headers).text)
            seen.append(
                client.patch(
                    f"/api/v1/connections/{cid}", json={"name": cid + " x"}, headers=headers
                ).text
            )
            seen.append(client.post(f"/api/v1/connections/{cid}/test", headers=headers).text)
            seen.append(client.get(f"/api/v1/connections/{cid}/audit", headers=headers).text)
            creds = client.post(f"/api/v1/connections/{cid}/credentials", headers=headers)
            assert "CANARY" in creds.text
        seen.append(client.get("/api/v1/connections", headers=headers).text)
        seen.append(client.get("/api/v1/connections?q=canary", headers=headers).text)
        seen.append(client.delete(f"/api/v1/connections/{ids[0]}", headers=headers).text)
    service.context.audit.flush()
    live = [p.name for p in tmp_path.iterdir() if p.name.startswith("gatekey.db")]
    assert "gatekey.db-wal" in live
    _scan_database_files(tmp_path)
    runtime.close()
    _scan_database_files(tmp_path)

    for text in seen:
        assert "CANARY" not in text
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert caplog.records, "DEBUG logging was captured"
    assert "CANARY" not in logged
    assert "canary0000" not in logged


def _scan_database_files(folder: Path) -> None:
    files = [p for p in folder.iterdir() if p.name.startswith("gatekey.db")]
    assert files
    for path in files:
        blob = path.read_bytes()
        for secret, _ in CANARIES.values():
            assert secret.encode() not in blob, path.name
        assert b"CANARY" not in blob, path.name


def test_query_parameter_keys_stay_out_of_request_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "qp.yaml").write_text(
        "key: qp\nname: Query Param\ndocs_url: https://qp.test/docs\nbase_url: https://qp.test\n"
        "auth:\n  - kind: api_key\n    fields:\n      required: [key]\n      properties:\n"
        "        key: {title: Key, secret: true}\n"
        "    apply: [{type: query, name: api_key, value: '{key}'}]\n"
        "    test_request: {path: /me}\n"
    )
    providers = FakeProviders()

    def handler(request):  # type: ignore[no-untyped-def]
        assert request.url.params["api_key"] == "CANARYqueryparam01"
        return httpx2.Response(200, json={})

    settings = Settings(home=tmp_path, master_keys=MASTER_KEY, apps_dir=tmp_path / "apps")
    runtime = open_runtime(settings, transport=httpx2.MockTransport(handler))
    project, _ = runtime.service.system.bootstrap()
    from gatekey.service import Actor

    runtime.service.connections.create(
        Actor.operator(project.id), app="qp", name="qp", fields={"key": "CANARYqueryparam01"}
    )
    runtime.close()
    assert providers.requests == []
    lines = [r.getMessage() + repr(r.args) for r in caplog.records]
    assert caplog.records, "DEBUG logging was captured"
    assert not any("CANARY" in line for line in lines)
    assert not any(r.name.startswith(("httpx2", "httpcore2")) for r in caplog.records)


def test_oauth_tokens_and_client_secrets_never_leak(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, sandbox: Sandbox
) -> None:
    """Refresh tokens never leave; access tokens only through the credentials endpoint."""
    caplog.set_level(logging.DEBUG)
    sandbox.control("reset")
    settings = Settings(home=tmp_path, master_keys=MASTER_KEY, audit_flush_interval=0.05)
    runtime = open_runtime(settings, extra_apps=[sandbox.app])
    _project, key = runtime.service.system.bootstrap()
    assert key is not None
    headers = {"Authorization": f"Bearer {key.token}"}
    seen: list[str] = []
    with TestClient(create_app(runtime)) as client:
        body = {"app": "sandbox", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        seen.append(client.post("/api/v1/oauth-clients", json=body, headers=headers).text)
        seen.append(client.get("/api/v1/oauth-clients", headers=headers).text)
        started = client.post(
            "/api/v1/oauth/sessions", json={"app": "sandbox", "name": "Leak"}, headers=headers
        )
        logging.disable(logging.CRITICAL)  # the test's own "browser" may log what it likes
        try:
            params = sandbox.consent(started.json()["authorize_url"])
        finally:
            logging.disable(logging.NOTSET)
        page = client.get("/oauth/callback", params=params)
        seen.append(page.text)
        session = client.get(f"/api/v1/oauth/sessions/{started.json()['id']}", headers=headers)
        seen.append(session.text)
        cid = session.json()["connection_id"]
        creds = client.post(f"/api/v1/connections/{cid}/credentials", headers=headers).json()
        stale = creds["fields"]["access_token"]
        again = client.post(
            f"/api/v1/connections/{cid}/credentials",
            json={"stale_token": stale},
            headers=headers,
        )
        assert "sbx_rt_" not in again.text and "CANARY" not in again.text
        seen.append(client.get(f"/api/v1/connections/{cid}", headers=headers).text)
        seen.append(client.get("/api/v1/connections", headers=headers).text)
        seen.append(client.get(f"/api/v1/connections/{cid}/audit", headers=headers).text)
        sandbox.control("revoke")
        client.post(
            f"/api/v1/connections/{cid}/credentials",
            json={"stale_token": again.json()["fields"]["access_token"]},
            headers=headers,
        )
        seen.append(client.get(f"/api/v1/connections/{cid}", headers=headers).text)
        seen.append(client.delete(f"/api/v1/connections/{cid}", headers=headers).text)
        metrics = client.get("/metrics").text
        assert 'gatekey_token_refreshes_total{app="sandbox",outcome="grant_revoked"} 1.0' in metrics
        seen.extend([metrics, client.get("/readyz").text])
        seen.append(client.get("/api/v1/audit", headers=headers).text)
    runtime.close()

    tokens = ("sbx_rt_", "sbx_at_", CLIENT_SECRET, params["code"])
    for text in seen:
        for token in tokens:
            assert token not in text
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    for token in (*tokens, params["state"], stale):
        assert token not in logged
    for path in tmp_path.iterdir():
        if path.name.startswith("gatekey.db"):
            blob = path.read_bytes()
            assert b"sbx_rt_" not in blob and b"sbx_at_" not in blob
            assert CLIENT_SECRET.encode() not in blob


def test_a_test_path_keeps_its_own_query_string(tmp_path: Path) -> None:
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "qs.yaml").write_text(
        "key: qs\nname: Query String\ndocs_url: https://qs.test/docs\nbase_url: https://qs.test\n"
        "description: d\ncategories: [other]\n"
        "auth:\n  - kind: api_key\n    fields:\n      required: [key]\n      properties:\n"
        "        key: {title: Key, secret: true}\n"
        "    apply: [{type: query, name: api_key, value: '{key}'}]\n"
        "    test_request: {path: '/users?type=CurrentUser'}\n"
    )
    seen: list[httpx2.URL] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.url)
        return httpx2.Response(200, json={})

    settings = Settings(home=tmp_path, master_keys=MASTER_KEY, apps_dir=tmp_path / "apps")
    runtime = open_runtime(settings, transport=httpx2.MockTransport(handler))
    project, _ = runtime.service.system.bootstrap()
    from gatekey.service import Actor

    runtime.service.connections.create(
        Actor.operator(project.id), app="qs", name="qs", fields={"key": "k-123456"}
    )
    runtime.close()
    assert dict(seen[0].params) == {"type": "CurrentUser", "api_key": "k-123456"}


def test_secrets_in_url_paths_stay_out_of_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, sandbox: Sandbox
) -> None:
    """Telegram-style apps carry the key in the path; no wire log line may show it."""
    caplog.set_level(logging.DEBUG)
    (tmp_path / "apps").mkdir()
    base = sandbox.url.rsplit("/sandbox", 1)[0]
    (tmp_path / "apps" / "pathkey.yaml").write_text(
        "key: pathkey\nname: Path Key\ndocs_url: https://pk.test/docs\n"
        f"base_url: '{base}/bot{{token}}'\ndescription: d\ncategories: [other]\n"
        "auth:\n  - kind: api_key\n    fields:\n      required: [token]\n      properties:\n"
        "        token: {title: Token, secret: true}\n"
        "    apply: [{type: header, name: Accept, value: application/json}]\n"
    )
    settings = Settings(home=tmp_path, master_keys=MASTER_KEY, apps_dir=tmp_path / "apps")
    runtime = open_runtime(settings)
    project, _ = runtime.service.system.bootstrap()
    from gatekey.service import Actor

    actor = Actor.operator(project.id)
    created = runtime.service.connections.create(
        actor, app="pathkey", name="pk", fields={"token": "CANARYpathtoken9"}, validate=False
    )
    runtime.service.proxy.send(actor, created.id, "GET", "getMe")
    runtime.close()
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert "CANARYpathtoken9" not in logged

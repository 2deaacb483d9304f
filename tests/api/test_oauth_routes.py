"""``/api/v1/oauth-clients`` and ``/api/v1/oauth/sessions`` over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gatekey.runtime import Runtime
from gatekey.server import create_app
from gatekey.service import Actor, Service
from tests.fakes.sandbox import CLIENT_ID, CLIENT_SECRET, Sandbox


@pytest.fixture
def http(oauth_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(oauth_runtime)) as test_client:
        yield test_client


@pytest.fixture
def admin(oauth_service: Service) -> dict[str, str]:
    project, _ = oauth_service.system.bootstrap()
    key = oauth_service.access.create_key(Actor.operator(project.id), name="admin", role="admin")
    return {"Authorization": f"Bearer {key.token}"}


@pytest.fixture
def worker(oauth_service: Service, admin: dict[str, str]) -> dict[str, str]:
    project, _ = oauth_service.system.bootstrap()
    key = oauth_service.access.create_key(Actor.operator(project.id), name="w", role="runtime")
    return {"Authorization": f"Bearer {key.token}"}


def _register(http: TestClient, admin: dict[str, str]) -> dict[str, object]:
    body = {"app": "sandbox", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    created = http.post("/api/v1/oauth-clients", json=body, headers=admin)
    assert created.status_code == 201, created.text
    result: dict[str, object] = created.json()
    return result


def test_oauth_clients_never_return_the_secret(
    http: TestClient, admin: dict[str, str], worker: dict[str, str]
) -> None:
    created = _register(http, admin)
    assert created["client_id"] == CLIENT_ID and created["app"] == "sandbox"
    listed = http.get("/api/v1/oauth-clients", headers=admin)
    one = http.get(f"/api/v1/oauth-clients/{created['id']}", headers=admin)
    for response in (listed, one):
        assert response.status_code == 200
        assert CLIENT_SECRET not in response.text and "secret" not in response.text
    again = http.post(
        "/api/v1/oauth-clients",
        json={"app": "sandbox", "client_id": "x", "client_secret": "y"},
        headers=admin,
    )
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert http.get("/api/v1/oauth-clients", headers=worker).json()["code"] == "forbidden"
    changed = http.patch(
        f"/api/v1/oauth-clients/{created['id']}", json={"scopes": ["profile"]}, headers=admin
    )
    assert changed.json()["scopes"] == ["profile"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"app": "sendgrid", "client_id": "a", "client_secret": "b"}, "invalid_input"),
        ({"app": "nope", "client_id": "a", "client_secret": "b"}, "unknown_app"),
        ({"app": "sandbox", "client_id": " ", "client_secret": "b"}, "invalid_fields"),
        ({"app": "sandbox", "client_id": "a"}, "invalid_input"),
    ],
)
def test_bad_oauth_clients_are_refused(
    http: TestClient, admin: dict[str, str], body: dict[str, str], code: str
) -> None:
    response = http.post("/api/v1/oauth-clients", json=body, headers=admin)
    assert response.status_code in (400, 422) and response.json()["code"] == code
    assert http.get("/api/v1/oauth-clients", headers=admin).json() == []


def test_session_then_callback_page_then_status(
    http: TestClient, admin: dict[str, str], sandbox: Sandbox
) -> None:
    client = _register(http, admin)
    started = http.post(
        "/api/v1/oauth/sessions", json={"app": "sandbox", "name": "Sandbox - Ada"}, headers=admin
    )
    assert started.status_code == 201, started.text
    session = started.json()
    assert session["status"] == "pending" and session["authorize_url"].startswith(sandbox.url)
    params = sandbox.consent(session["authorize_url"])

    page = http.get("/oauth/callback", params=params)

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "Connected" in page.text
    assert '"origin": "http://127.0.0.1:8040"' in page.text
    assert params["code"] not in page.text and params["state"] not in page.text
    status = http.get(f"/api/v1/oauth/sessions/{session['id']}", headers=admin).json()
    assert status["status"] == "succeeded" and status["connection_id"]
    assert "authorize_url" not in status or status["authorize_url"] is None
    deleted = http.delete(f"/api/v1/oauth-clients/{client['id']}", headers=admin)
    assert deleted.status_code == 409, "a client in use cannot be deleted"
    credentials = http.post(
        f"/api/v1/connections/{status['connection_id']}/credentials", headers=admin
    )
    assert credentials.status_code == 200
    assert set(credentials.json()["fields"]) == {"access_token", "token_type"}


def test_callback_page_explains_failures_plainly(
    http: TestClient, admin: dict[str, str], sandbox: Sandbox
) -> None:
    _register(http, admin)
    session = http.post(
        "/api/v1/oauth/sessions", json={"app": "sandbox", "name": "Denied"}, headers=admin
    ).json()
    params = sandbox.consent(session["authorize_url"], approve=False)
    page = http.get("/oauth/callback", params=params)
    assert page.status_code == 400
    assert "Not connected" in page.text and "oauth_access_denied" in page.text
    forged = http.get("/oauth/callback", params={"code": "x", "state": "forged"})
    assert forged.status_code == 400 and "oauth_state_invalid" in forged.text
    assert http.get("/api/v1/connections", headers=admin).json()["items"] == []


def test_callback_script_posts_to_the_exact_origin_only(http: TestClient) -> None:
    script = http.get("/static/callback.js")
    assert script.status_code == 200
    assert "postMessage(message, data.origin)" in script.text
    assert '"*"' not in script.text and "'*'" not in script.text
    assert "BroadcastChannel" in script.text


def test_revoke_failed_run_reconnect_retry_over_http(
    http: TestClient, admin: dict[str, str], sandbox: Sandbox, oauth_runtime: Runtime
) -> None:
    from gatekey.runtime import run_worker

    _register(http, admin)
    worker = run_worker(oauth_runtime)

    def authorize(body: dict[str, str]) -> str:
        started = http.post("/api/v1/oauth/sessions", json=body, headers=admin).json()
        http.get("/oauth/callback", params=sandbox.consent(started["authorize_url"]))
        done = http.get(f"/api/v1/oauth/sessions/{started['id']}", headers=admin).json()
        assert done["status"] == "succeeded"
        return str(done["connection_id"])

    cid = authorize({"app": "sandbox", "name": "Sandbox - Ops"})
    step = {"id": "me", "app": "sandbox", "connection": cid, "type": "http"}
    flow = http.post(
        "/api/v1/flows",
        json={"name": "Who", "definition": {"steps": [{**step, "http": {"path": "/api/me"}}]}},
        headers=admin,
    ).json()
    sandbox.control("revoke")
    sandbox.state.access.clear()
    run_id = http.post(f"/api/v1/flows/{flow['id']}/runs", json={}, headers=admin).json()["id"]
    worker.drain()
    failed = http.get(f"/api/v1/runs/{run_id}", headers=admin).json()
    assert failed["status"] == "failed" and failed["error_code"] == "connection_inactive"
    assert failed["failed_connection_id"] == cid
    connection = http.get(f"/api/v1/connections/{cid}", headers=admin).json()
    assert connection["status"] == "inactive" and connection["status_reason"] == "revoked"

    assert authorize({"connection_id": cid}) == cid
    retried = http.post(f"/api/v1/runs/{run_id}/retry", headers=admin).json()
    assert retried["retry_of"] == run_id
    worker.drain()
    done = http.get(f"/api/v1/runs/{retried['id']}", headers=admin).json()
    assert done["status"] == "succeeded"
    assert done["steps"][0]["output"]["body"]["email"] == "ada@example.com"


def test_diagnosis_and_required_scopes_over_http(
    http: TestClient, admin: dict[str, str], sandbox: Sandbox
) -> None:
    _register(http, admin)
    started = http.post(
        "/api/v1/oauth/sessions", json={"app": "sandbox", "name": "Scoped"}, headers=admin
    ).json()
    http.get("/oauth/callback", params=sandbox.consent(started["authorize_url"]))
    cid = http.get(f"/api/v1/oauth/sessions/{started['id']}", headers=admin).json()["connection_id"]
    diagnosis = http.get(
        f"/api/v1/connections/{cid}/diagnosis",
        params=[("scopes", "tasks.read"), ("scopes", "tasks.write")],
        headers=admin,
    ).json()
    assert diagnosis["ok"] is False and diagnosis["missing_scopes"] == ["tasks.write"]
    refused = http.post(
        f"/api/v1/connections/{cid}/credentials",
        json={"required_scopes": ["tasks.write"]},
        headers=admin,
    )
    assert refused.status_code == 409 and refused.json()["code"] == "missing_scopes"
    assert refused.json()["missing"] == ["tasks.write"]


def _shape(response: Any, *ids: str) -> tuple[int, str]:
    text = response.text
    for one in ids:
        text = text.replace(one, "ID")
    return response.status_code, text


def test_another_projects_objects_answer_exactly_like_missing_ones(
    http: TestClient, admin: dict[str, str], oauth_service: Service, sandbox: Sandbox
) -> None:
    """Their OAuth client in use, webhook, API key, app and flow: every endpoint answers as for
    an id that does not exist (no 409 counting their connections), and nothing of theirs moves."""
    theirs = Actor.operator(oauth_service.system.create_project("theirs").id)
    client = oauth_service.oauth_clients.register(
        theirs, app="sandbox", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    started = oauth_service.authorizations.start(theirs, app="sandbox", name="Theirs")
    done = oauth_service.system.complete_authorization(sandbox.consent(started.authorize_url or ""))
    assert done.status == "succeeded"
    hook = oauth_service.webhooks.add(theirs, url="https://hooks.example.com/x")
    key = oauth_service.access.create_key(theirs, name="their key", role="admin")
    app_def = {
        "key": "their-crm",
        "name": "Their CRM",
        "base_url": "https://crm.example.com",
        "docs_url": "https://crm.example.com/docs",
        "description": "Theirs.",
        "auth": [
            {
                "kind": "api_key",
                "fields": {"properties": {"api_key": {"title": "Key", "secret": True}}},
                "apply": [{"type": "header", "name": "X-Key", "value": "{api_key}"}],
            }
        ],
    }
    oauth_service.apps.add(theirs, app_def)
    connection_id = done.connection_id or ""
    replacement = {k: v for k, v in app_def.items() if k != "key"}
    flow = oauth_service.flows.create(
        theirs,
        name="Their flow",
        definition={
            "steps": [
                {
                    "id": "a",
                    "app": "sandbox",
                    "connection": connection_id,
                    "type": "http",
                    "http": {"method": "GET", "path": "/api/me"},
                }
            ]
        },
    )
    missing = {
        "oac": "oac_01JD3W6ZK2Q8V5N0C7H9X4T1RB",
        "whk": "whk_01JD3W6ZK2Q8V5N0C7H9X4T1RB",
        "key": "key_01JD3W6ZK2Q8V5N0C7H9X4T1RB",
        "flow": "flow_01JD3W6ZK2Q8V5N0C7H9X4T1RB",
    }
    calls = [
        ("DELETE", "/api/v1/oauth-clients/{}", client.id, missing["oac"], None),
        ("GET", "/api/v1/oauth-clients/{}", client.id, missing["oac"], None),
        ("PATCH", "/api/v1/oauth-clients/{}", client.id, missing["oac"], {"scopes": ["x"]}),
        ("DELETE", "/api/v1/webhooks/{}", hook.id, missing["whk"], None),
        ("GET", "/api/v1/webhooks/{}/deliveries", hook.id, missing["whk"], None),
        ("POST", "/api/v1/webhooks/{}/ping", hook.id, missing["whk"], None),
        ("DELETE", "/api/v1/api-keys/{}", key.id, missing["key"], None),
        ("DELETE", "/api/v1/apps/{}", "their-crm", "nobodys-crm", None),
        ("PUT", "/api/v1/apps/{}", "their-crm", "nobodys-crm", replacement),
        ("GET", "/api/v1/apps/{}", "their-crm", "nobodys-crm", None),
        ("DELETE", "/api/v1/flows/{}", flow.id, missing["flow"], None),
        ("GET", "/api/v1/flows/{}", flow.id, missing["flow"], None),
        ("POST", "/api/v1/flows/{}/runs", flow.id, missing["flow"], None),
        (
            "DELETE",
            "/api/v1/connections/{}",
            connection_id,
            "conn_01JD3W6ZK2Q8V5N0C7H9X4T1RB",
            None,
        ),
    ]
    for method, path, their_id, missing_id, body in calls:
        kwargs: dict[str, Any] = {"headers": admin}
        if body is not None:
            kwargs["json"] = body
        answer = http.request(method, path.format(their_id), **kwargs)
        nothing = http.request(method, path.format(missing_id), **kwargs)
        assert answer.status_code in (404, 422), (method, path, answer.text)
        assert _shape(answer, their_id) == _shape(nothing, missing_id), (method, path)
    assert oauth_service.oauth_clients.get(theirs, client.id).connections == 1
    assert [w.id for w in oauth_service.webhooks.list(theirs)] == [hook.id]
    assert [k.id for k in oauth_service.access.list_keys(theirs) if k.revoked_at is None] == [
        key.id
    ]
    assert oauth_service.apps.get(theirs, "their-crm").name == "Their CRM"
    assert oauth_service.flows.get(theirs, flow.id).name == "Their flow"
    assert oauth_service.connections.get(theirs, connection_id).status == "active"


def test_a_reconnect_over_http_may_allow_an_account_switch(
    http: TestClient, admin: dict[str, str], sandbox: Sandbox
) -> None:
    _register(http, admin)
    started = http.post(
        "/api/v1/oauth/sessions", json={"app": "sandbox", "name": "Ada"}, headers=admin
    ).json()
    http.get("/oauth/callback", params=sandbox.consent(started["authorize_url"]))
    cid = http.get(f"/api/v1/oauth/sessions/{started['id']}", headers=admin).json()["connection_id"]
    outcomes = []
    for allow in (False, True):
        body = {"connection_id": cid, "allow_account_switch": allow}
        again = http.post("/api/v1/oauth/sessions", json=body, headers=admin).json()
        assert again["allow_account_switch"] is allow
        http.get("/oauth/callback", params=sandbox.consent(again["authorize_url"], user="g@x.io"))
        outcomes.append(http.get(f"/api/v1/oauth/sessions/{again['id']}", headers=admin).json())
    assert [o["error_code"] for o in outcomes] == ["account_mismatch", None]
    assert http.get(f"/api/v1/connections/{cid}", headers=admin).json()["account_label"] == "g@x.io"

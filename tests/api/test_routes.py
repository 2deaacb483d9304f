from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from gatekey.runtime import Runtime, run_worker
from gatekey.service import Actor, Service
from tests.fakes.api import MISSING, create_sendgrid
from tests.fakes.apps import retiring
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders


def test_the_whole_life_of_a_connection(
    client: TestClient, admin: dict[str, str], worker: dict[str, str]
) -> None:
    created = create_sendgrid(client, admin)
    assert created.status_code == 201, created.text
    conn = created.json()
    assert conn["fields"] == {"api_key": "••••0001"}
    assert conn["is_default"] is True
    cid = conn["id"]

    listed = client.get("/api/v1/connections", headers=worker).json()
    assert [c["id"] for c in listed["items"]] == [cid]

    renamed = client.patch(
        f"/api/v1/connections/{cid}", json={"name": "SendGrid - Prod"}, headers=admin
    )
    assert renamed.json()["name"] == "SendGrid - Prod"
    other = create_sendgrid(client, admin, "SendGrid - Staging").json()
    made_default = client.patch(
        f"/api/v1/connections/{other['id']}", json={"is_default": True}, headers=admin
    )
    assert made_default.json()["is_default"] is True

    creds = client.post(f"/api/v1/connections/{cid}/credentials", headers=worker)
    assert creds.status_code == 200
    assert creds.headers["cache-control"] == "no-store"
    assert creds.json()["headers"] == {"Authorization": f"Bearer {GOOD_SENDGRID}"}

    tested = client.post(f"/api/v1/connections/{cid}/test", headers=admin)
    assert tested.json()["ok"] is True

    audit = client.get(f"/api/v1/connections/{cid}/audit", headers=admin).json()
    assert {"credentials.read", "connection.create", "connection.update"} <= {
        e["action"] for e in audit
    }

    deleted = client.delete(f"/api/v1/connections/{cid}", headers=admin)
    assert deleted.status_code == 200
    assert client.get(f"/api/v1/connections/{cid}", headers=admin).status_code == 404


def test_apps_are_listed_and_described(client: TestClient, worker: dict[str, str]) -> None:
    apps = client.get("/api/v1/apps", headers=worker).json()
    assert "sendgrid" in {a["key"] for a in apps}
    zendesk = client.get("/api/v1/apps/zendesk", headers=worker).json()
    tokens = next(m for m in zendesk["auth"] if m["kind"] == "custom")
    assert tokens["fields"]["properties"]["api_token"]["secret"] is True
    missing = client.get("/api/v1/apps/nope", headers=worker)
    assert (missing.status_code, missing.json()["code"]) == (422, "unknown_app")
    assert client.get("/api/v1/apps?q=mail", headers=worker).json()


def test_a_project_adds_changes_and_deletes_its_own_app(
    client: TestClient, admin: dict[str, str], worker: dict[str, str], outsider: dict[str, str]
) -> None:
    from tests.fakes.apps import acme

    refused = client.post("/api/v1/apps", json=acme(docs_url="nope"), headers=admin)
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_app_definition"
    assert refused.json()["errors"][0]["field"] == "docs_url"
    assert client.post("/api/v1/apps", json=acme(), headers=worker).status_code == 403

    added = client.post("/api/v1/apps", json=acme(), headers=admin)
    assert added.status_code == 201, added.text
    assert added.json()["source"] == "project" and added.json()["builtin"] is False
    again = client.post("/api/v1/apps", json=acme(), headers=admin)
    assert (again.status_code, again.json()["code"]) == (409, "app_exists")
    listed = {a["key"]: a for a in client.get("/api/v1/apps", headers=worker).json()}
    assert listed["acme-crm"]["source"] == "project"
    assert "acme-crm" not in {a["key"] for a in client.get("/api/v1/apps", headers=outsider).json()}
    assert client.get("/api/v1/apps/acme-crm", headers=outsider).status_code == 422

    body = {"app": "acme-crm", "name": "Acme", "fields": {"api_key": GOOD_SENDGRID}}
    created = client.post("/api/v1/connections", json=body, headers=admin)
    assert created.status_code == 201, created.text
    in_use = client.delete("/api/v1/apps/acme-crm", headers=admin)
    assert (in_use.status_code, in_use.json()["code"]) == (409, "app_in_use")
    assert in_use.json()["connections"] == 1

    changed = client.put("/api/v1/apps/acme-crm", json=acme(name="Acme 2"), headers=admin)
    assert changed.json()["name"] == "Acme 2"
    catalog = client.put("/api/v1/apps/sendgrid", json=acme(key="sendgrid"), headers=admin)
    assert catalog.status_code == 403
    client.delete(f"/api/v1/connections/{created.json()['id']}", headers=admin)
    assert client.delete("/api/v1/apps/acme-crm", headers=admin).status_code == 204
    assert client.get("/api/v1/apps/acme-crm", headers=admin).status_code == 422


def test_the_project_audit_trail_and_its_verification(
    client: TestClient, admin: dict[str, str], worker: dict[str, str]
) -> None:
    cid = create_sendgrid(client, admin).json()["id"]
    client.post(f"/api/v1/connections/{cid}/credentials", headers=worker)

    trail = client.get("/api/v1/audit", params={"object": cid}, headers=admin).json()
    assert [e["action"] for e in trail] == ["credentials.read", "connection.create"]
    assert GOOD_SENDGRID not in str(trail)
    assert client.get("/api/v1/audit", headers=worker).status_code == 403
    checked = client.get("/api/v1/audit/verify", headers=admin).json()
    assert checked["ok"] is True and checked["chains"] == 1 and checked["breaks"] == []


def test_openapi_is_published(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/connections/{connection_id}/credentials" in spec["paths"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"app": "nope", "name": "x"}, 422, "unknown_app"),
        (
            {"app": "sendgrid", "name": "", "fields": {"api_key": GOOD_SENDGRID}},
            422,
            "invalid_name",
        ),
        ({"app": "sendgrid", "name": "x", "fields": {}}, 422, "invalid_fields"),
        ({"app": "sendgrid", "name": "x", "fields": {"api_key": 5}}, 422, "invalid_fields"),
        (
            {"app": "sendgrid", "name": "x", "fields": {"api_key": "SG." + "a" * 70000}},
            413,
            "payload_too_large",
        ),
        (
            {"app": "sendgrid", "name": "x", "fields": {"api_key": GOOD_SENDGRID}, "bogus": 1},
            422,
            "invalid_input",
        ),
        ({"name": "x"}, 422, "invalid_input"),
        (
            {"app": "sendgrid", "name": "x", "fields": {"api_key": "SG.no.CANARYbad"}},
            422,
            "invalid_credentials",
        ),
    ],
)
def test_bad_input_is_a_problem_document_and_changes_nothing(
    client: TestClient, admin: dict[str, str], body: dict[str, object], status: int, code: str
) -> None:
    response = client.post("/api/v1/connections", json=body, headers=admin)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["detail"]
    assert "CANARY" not in response.text
    assert client.get("/api/v1/connections", headers=admin).json()["items"] == []


def test_malformed_json_and_huge_bodies(client: TestClient, admin: dict[str, str]) -> None:
    bad = client.post(
        "/api/v1/connections",
        content=b"{nope",
        headers={**admin, "Content-Type": "application/json"},
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")
    huge = client.post("/api/v1/connections", content=b"x" * (2 * 1024 * 1024), headers=admin)
    assert (huge.status_code, huge.json()["code"]) == (413, "payload_too_large")


def test_duplicate_name_is_409(client: TestClient, admin: dict[str, str]) -> None:
    assert create_sendgrid(client, admin).status_code == 201
    again = create_sendgrid(client, admin)
    assert (again.status_code, again.json()["code"]) == (409, "duplicate_name")


def test_malformed_id_is_400(client: TestClient, admin: dict[str, str]) -> None:
    response = client.get("/api/v1/connections/not-an-id", headers=admin)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_id")


ID_PREFIXES = {
    "connection_id": "conn",
    "key_id": "key",
    "webhook_id": "whk",
    "oauth_client_id": "oac",
    "session_id": "oas",
    "flow_id": "flow",
    "run_id": "run",
}
"""Each id the API takes in a path, and its prefix; a new one must be added here."""
OTHER_PARAMETERS = {"key": "sendgrid", "path": "me", "secret": "s" * 40}
"""Path parameters that are not ids (an app key, the proxy's path, a webhook's secret)."""


def test_a_malformed_id_is_400_invalid_id_on_every_route(
    client: TestClient, admin: dict[str, str]
) -> None:
    """Every route of the published document that takes an id, each id in turn: not an id at
    all, and a well-formed id of another kind. Checked before any lookup, so never 404."""
    document = client.get("/openapi.json").json()
    wrong: list[str] = []
    routes = 0
    for template, operations in document["paths"].items():
        names = re.findall(r"{(\w+)}", template)
        unknown = {n for n in names if n not in ID_PREFIXES and n not in OTHER_PARAMETERS}
        assert not unknown, f"{template}: say in ID_PREFIXES what {unknown} is"
        for name in (n for n in names if n in ID_PREFIXES):
            other = "run" if ID_PREFIXES[name] != "run" else "conn"
            for bad in ("not-an-id", f"{other}_01JD3W6ZK2Q8V5N0C7H9X4T1RB"):
                path = template
                for each in names:
                    value = bad if each == name else OTHER_PARAMETERS.get(each)
                    value = value or f"{ID_PREFIXES[each]}_01JD3W6ZK2Q8V5N0C7H9X4T1RB"
                    path = path.replace(f"{{{each}}}", value)
                for method in operations:
                    routes += 1
                    answer = client.request(method, path, headers=admin, json=_body(template))
                    code = answer.json().get("code") if answer.content else None
                    if (answer.status_code, code) != (400, "invalid_id"):
                        wrong.append(f"{method.upper()} {path}: {answer.status_code} {code}")
    assert routes >= 60, "the document's id routes were found"
    assert wrong == []


def _body(template: str) -> dict[str, str]:
    """A body the route accepts, so only the id can be at fault."""
    if template.endswith("/replace"):
        return {"replacement": "conn_01JD3W6ZK2Q8V5N0C7H9X4T1RB"}
    return {}


def test_a_malformed_replacement_is_400_invalid_id(
    client: TestClient, admin: dict[str, str]
) -> None:
    answer = client.post(
        f"/api/v1/connections/{MISSING}/replace", json={"replacement": "x"}, headers=admin
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid_id")


@pytest.mark.parametrize("header", [None, "Bearer gk_wrong", "Basic abc", "Bearer "])
def test_missing_or_wrong_key_is_401(client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/connections", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_runtime_key_cannot_manage(
    client: TestClient, admin: dict[str, str], worker: dict[str, str]
) -> None:
    cid = create_sendgrid(client, admin).json()["id"]
    attempts = [
        client.post(
            "/api/v1/connections",
            json={"app": "sendgrid", "name": "x", "fields": {"api_key": GOOD_SENDGRID}},
            headers=worker,
        ),
        client.patch(f"/api/v1/connections/{cid}", json={"name": "x"}, headers=worker),
        client.delete(f"/api/v1/connections/{cid}", headers=worker),
        client.post(f"/api/v1/connections/{cid}/test", headers=worker),
        client.get("/api/v1/api-keys", headers=worker),
        client.post("/api/v1/api-keys", json={"name": "x", "role": "admin"}, headers=worker),
    ]
    for response in attempts:
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert client.get(f"/api/v1/connections/{cid}", headers=admin).json()["name"] == (
        "SendGrid - Production"
    )


def test_every_endpoint_hides_other_projects(
    client: TestClient, admin: dict[str, str], outsider: dict[str, str]
) -> None:
    cid = create_sendgrid(client, admin).json()["id"]
    calls = [
        ("GET", "", None),
        ("PATCH", "", {"name": "mine now"}),
        ("PATCH", "", {"fields": {"api_key": GOOD_SENDGRID}}),
        ("DELETE", "", None),
        ("POST", "/credentials", None),
        ("POST", "/test", None),
        ("GET", "/audit", None),
    ]
    for method, suffix, body in calls:
        theirs = client.request(
            method, f"/api/v1/connections/{cid}{suffix}", json=body, headers=outsider
        )
        nothing = client.request(
            method, f"/api/v1/connections/{MISSING}{suffix}", json=body, headers=outsider
        )
        assert theirs.status_code == nothing.status_code == 404, (method, suffix)
        assert theirs.text.replace(cid, "ID") == nothing.text.replace(MISSING, "ID")
    assert client.get("/api/v1/connections", headers=outsider).json()["items"] == []
    assert client.get(f"/api/v1/connections/{cid}", headers=admin).json()["name"] == (
        "SendGrid - Production"
    )


def test_api_keys_endpoints(client: TestClient, admin: dict[str, str]) -> None:
    made = client.post("/api/v1/api-keys", json={"name": "ci", "role": "runtime"}, headers=admin)
    assert made.status_code == 201
    token = made.json()["token"]
    listed = client.get("/api/v1/api-keys", headers=admin)
    assert token not in listed.text
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["role"] == "runtime"
    assert client.delete(f"/api/v1/api-keys/{made.json()['id']}", headers=admin).status_code == 204
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_another_projects_api_key_cannot_be_revoked(
    client: TestClient, service: Service, actor: Actor, outsider: dict[str, str]
) -> None:
    mine = service.access.create_key(actor, name="mine", role="runtime")
    theirs = client.delete(f"/api/v1/api-keys/{mine.id}", headers=outsider)
    nothing = client.delete("/api/v1/api-keys/key_01JD3W6ZK2Q8V5N0C7H9X4T1RB", headers=outsider)
    assert theirs.status_code == nothing.status_code == 404
    assert theirs.text.replace(mine.id, "ID") == nothing.text.replace(
        "key_01JD3W6ZK2Q8V5N0C7H9X4T1RB", "ID"
    )
    assert service.system.authenticate(mine.token).key_id == mine.id
    assert "mine" not in client.get("/api/v1/api-keys", headers=outsider).text


def test_a_patch_applies_all_of_its_changes_or_none(
    client: TestClient, admin: dict[str, str], providers: FakeProviders
) -> None:
    first = create_sendgrid(client, admin).json()
    create_sendgrid(client, admin, "SendGrid - Staging")
    providers.accepted.add("SG.new.CANARYpatch000009")
    clash = client.patch(
        f"/api/v1/connections/{first['id']}",
        json={"name": "SendGrid - Staging", "fields": {"api_key": "SG.new.CANARYpatch000009"}},
        headers=admin,
    )
    assert (clash.status_code, clash.json()["code"]) == (409, "duplicate_name")
    creds = client.post(f"/api/v1/connections/{first['id']}/credentials", headers=admin).json()
    assert creds["fields"]["api_key"] == GOOD_SENDGRID
    both = client.patch(
        f"/api/v1/connections/{first['id']}",
        json={"name": "SendGrid - Renamed", "fields": {"api_key": "SG.new.CANARYpatch000009"}},
        headers=admin,
    ).json()
    assert (both["name"], both["fields"]["api_key"], both["version"]) == (
        "SendGrid - Renamed",
        "••••0009",
        2,
    )


def test_usage_and_the_in_use_refusal(client: TestClient, admin: dict[str, str]) -> None:
    cid = create_sendgrid(client, admin).json()["id"]
    step = {"id": "mail", "app": "sendgrid", "connection": cid, "type": "http"}
    flow = client.post(
        "/api/v1/flows",
        json={"name": "Welcome", "definition": {"steps": [{**step, "http": {"path": "/v3/x"}}]}},
        headers=admin,
    )
    assert flow.status_code == 201, flow.text
    usage = client.get(f"/api/v1/connections/{cid}/usage", headers=admin).json()
    assert usage["flows"] == [
        {
            "flow_id": flow.json()["id"],
            "flow_name": "Welcome",
            "steps": ["mail"],
            "by_default": False,
        }
    ]
    assert client.get(f"/api/v1/connections/{cid}", headers=admin).json()["flows"] == 1
    refused = client.delete(f"/api/v1/connections/{cid}", headers=admin)
    assert refused.status_code == 409
    assert refused.json()["code"] == "connection_in_use" and refused.json()["flows"] == ["Welcome"]
    bad = client.post(
        "/api/v1/flows",
        json={"name": "Bad", "definition": {"steps": [{**step, "connection": "conn_x"}]}},
        headers=admin,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("steps.0")
    forced = client.delete(f"/api/v1/connections/{cid}", params={"force": "true"}, headers=admin)
    assert forced.status_code == 200


def test_the_proxy_over_http(
    client: TestClient, admin: dict[str, str], worker: dict[str, str], providers: FakeProviders
) -> None:
    cid = create_sendgrid(client, admin).json()["id"]
    answer = client.get(f"/api/v1/proxy/{cid}/v3/scopes", headers=worker)
    assert answer.status_code == 200 and answer.json() == {"scopes": ["mail.send"]}
    assert GOOD_SENDGRID not in answer.text
    outside = client.get(f"/api/v1/proxy/{cid}/https:%2F%2Fevil.example%2Fx", headers=worker)
    assert outside.status_code == 422 and outside.json()["code"] == "invalid_input"


def test_runs_over_http(client: TestClient, admin: dict[str, str], runtime: Runtime) -> None:
    cid = create_sendgrid(client, admin).json()["id"]
    step = {"id": "s", "app": "sendgrid", "connection": cid, "type": "http"}
    definition = {"steps": [{**step, "http": {"path": "/v3/scopes"}}]}
    flow = client.post(
        "/api/v1/flows", json={"name": "F", "definition": definition}, headers=admin
    ).json()
    queued = client.post(f"/api/v1/flows/{flow['id']}/runs", json={"a": 1}, headers=admin)
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    run_worker(runtime).drain()
    run = client.get(f"/api/v1/runs/{queued.json()['id']}", headers=admin).json()
    assert run["status"] == "succeeded" and run["input"] == {"a": 1}
    assert run["steps"][0]["output"]["status"] == 200
    listed = client.get("/api/v1/runs", params={"flow": flow["id"]}, headers=admin).json()
    assert [r["id"] for r in listed] == [run["id"]]
    again = client.post(f"/api/v1/runs/{run['id']}/retry", headers=admin)
    assert again.status_code == 422 and "only failed runs" in again.json()["detail"]


def test_webhook_trigger_and_rotation(
    client: TestClient, admin: dict[str, str], runtime: Runtime
) -> None:
    cid = create_sendgrid(client, admin).json()["id"]
    step = {"id": "s", "app": "sendgrid", "connection": cid, "type": "http"}
    flow = client.post(
        "/api/v1/flows",
        json={"name": "Hooked", "definition": {"steps": [{**step, "http": {"path": "/v3/x"}}]}},
        headers=admin,
    ).json()
    first = client.post(f"/api/v1/flows/{flow['id']}/webhook", headers=admin).json()["url"]
    path = first.split("127.0.0.1:8040", 1)[1]
    hit = client.post(path, json={"email": "a@b.c"})
    assert hit.status_code == 202
    run = client.get(f"/api/v1/runs/{hit.json()['run_id']}", headers=admin).json()
    assert run["trigger"] == "webhook" and run["input"] == {"email": "a@b.c"}
    second = client.post(f"/api/v1/flows/{flow['id']}/webhook", headers=admin).json()["url"]
    assert second != first
    assert client.post(path, json={}).status_code == 404, "the old URL stopped working"
    assert client.post(f"/hooks/{flow['id']}/guess", json={}).status_code == 404
    assert client.get(f"/api/v1/flows/{flow['id']}", headers=admin).json()["has_webhook"]


def test_replace_moves_flow_steps_to_another_connection(
    client: TestClient, admin: dict[str, str]
) -> None:
    old = create_sendgrid(client, admin, "Old").json()["id"]
    new = create_sendgrid(client, admin, "New").json()["id"]
    step = {"id": "s", "app": "sendgrid", "connection": old, "type": "http"}
    flow = client.post(
        "/api/v1/flows",
        json={"name": "F", "definition": {"steps": [{**step, "http": {"path": "/v3/x"}}]}},
        headers=admin,
    ).json()
    moved = client.post(
        f"/api/v1/connections/{old}/replace", json={"replacement": new}, headers=admin
    )
    assert moved.json() == {"moved": 1}
    after = client.get(f"/api/v1/flows/{flow['id']}", headers=admin).json()
    assert after["definition"]["steps"][0]["connection"] == new
    assert after["connections"][0]["connection_id"] == new
    assert client.delete(f"/api/v1/connections/{old}", headers=admin).status_code == 200


def test_every_response_carries_the_security_headers(
    client: TestClient, admin: dict[str, str]
) -> None:
    for response in (
        client.get("/api/v1/me", headers=admin),
        client.get("/api/v1/me"),  # a refusal too
        client.post("/api/v1/connections", content=b"x" * (2 * 1024 * 1024), headers=admin),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
    declared = client.post(
        "/api/v1/connections", content=b"{}", headers={**admin, "Content-Length": "12x"}
    )
    assert (declared.status_code, declared.json()["code"]) == (413, "payload_too_large")


def test_app_definitions_refuse_what_could_freeze_or_split_requests(
    client: TestClient, admin: dict[str, str]
) -> None:
    from tests.fakes.apps import acme, probe_app
    from tests.fakes.timing import within

    backreference = acme()
    backreference["auth"][0]["fields"]["properties"]["api_key"]["pattern"] = r"^(\w)\1$"
    split_header = acme()
    split_header["auth"][0]["apply"] = [
        {"type": "header", "name": "X-Key", "value": "{api_key}\r\nX-Evil: 1"}
    ]
    for definition, field in [
        (backreference, "auth.0.fields.properties.api_key.pattern"),
        (split_header, "auth.0.apply.0.header.value"),
    ]:
        refused = client.post("/api/v1/apps", json=definition, headers=admin)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "invalid_app_definition"
        assert [e["field"] for e in refused.json()["errors"]] == [field]

    assert client.post("/api/v1/apps", json=probe_app(), headers=admin).status_code == 201

    def probe() -> list[tuple[int, str, str]]:
        answers = []
        for value in ("a" * 29 + "!", "a" * 9_999 + "!"):
            body = {"app": "acme-crm", "name": "Probe", "fields": {"api_key": value}}
            answer = client.post("/api/v1/connections", json=body, headers=admin)
            answers.append(
                (answer.status_code, answer.json()["code"], answer.json()["errors"][0]["field"])
            )
        return answers

    assert within(30, probe) == [(422, "invalid_fields", "fields.api_key")] * 2
    assert client.get("/healthz").status_code == 200


def test_skip_test_stores_without_the_provider_on_create_and_replace(
    client: TestClient, admin: dict[str, str], providers: FakeProviders
) -> None:
    unchecked = {"app": "sendgrid", "name": "SG", "fields": {"api_key": "SG.a.b"}}
    made = client.post("/api/v1/connections", json={**unchecked, "skip_test": True}, headers=admin)
    assert made.status_code == 201, made.text
    url = f"/api/v1/connections/{made.json()['id']}"
    replaced = client.patch(
        url, json={"fields": {"api_key": "SG.c.d"}, "skip_test": True}, headers=admin
    )
    assert replaced.status_code == 200, replaced.text
    assert providers.requests == []
    checked = client.patch(url, json={"fields": {"api_key": GOOD_SENDGRID}}, headers=admin)
    assert checked.status_code == 200 and len(providers.requests) == 1


def test_offline_the_problem_names_host_and_cause_and_the_way_to_save_without_checking(
    client: TestClient, admin: dict[str, str], providers: FakeProviders
) -> None:
    providers.unreachable = True
    body = {"app": "sendgrid", "name": "SG", "fields": {"api_key": GOOD_SENDGRID}}
    answer = client.post("/api/v1/connections", json=body, headers=admin)
    assert answer.status_code == 502, answer.text
    problem = answer.json()
    assert problem["code"] == "provider_unavailable"
    assert problem["host"] == "api.sendgrid.com" and problem["cause"] == "no network"
    assert problem["next"]["action"] == "skip_test"
    assert '"skip_test": true' in problem["next"]["request"]
    assert client.get("/api/v1/connections", headers=admin).json()["items"] == []


def test_a_retiring_method_warns_on_create_and_is_refused_after_its_sunset(
    client: TestClient, admin: dict[str, str], service: Service
) -> None:
    assert client.post("/api/v1/apps", json=retiring(), headers=admin).status_code == 201
    body = {
        "app": "helpdesk",
        "name": "Desk",
        "auth_kind": "api_key",
        "fields": {"api_key": GOOD_SENDGRID},
    }
    service.context.clock = lambda: datetime(2027, 4, 29, tzinfo=UTC)
    created = client.post("/api/v1/connections", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["warnings"] == [
        {
            "code": "method_deprecated",
            "message": "Helpdesk API token connections stop working on 2027-04-30; "
            "connect with OAuth instead",
            "at": None,
            "sunset": "2027-04-30",
            "use_instead": "oauth2",
            "source": "https://docs.acme.test/oauth-migration",
        }
    ]
    service.context.clock = lambda: datetime(2027, 4, 30, tzinfo=UTC)
    refused = client.post("/api/v1/connections", json={**body, "name": "Late"}, headers=admin)
    assert (refused.status_code, refused.json()["code"]) == (422, "auth_method_retired")
    assert refused.json()["use_instead"] == "oauth2"
    assert refused.json()["next"] == {
        "action": "start_authorization",
        "params": {"app": "helpdesk"},
        "request": "POST /api/v1/oauth/sessions",
    }
    listed = client.get("/api/v1/connections", headers=admin).json()["items"]
    assert [c["name"] for c in listed] == ["Desk"]
    assert "stopped working on 2027-04-30" in listed[0]["warnings"][0]["message"]

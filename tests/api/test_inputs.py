"""A NUL character or a non-finite number in any request text: 422 ``invalid_input``, nothing
written, on SQLite and PostgreSQL alike (PostgreSQL used to answer 500, SQLite to store it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gatekey.runtime import Runtime
from gatekey.store.tables import metadata
from tests.fakes.apps import acme
from tests.fakes.providers import GOOD_SENDGRID

NUL = "a\x00b"
POISONS = {"nul": NUL, "nan": float("nan"), "-infinity": -float("inf")}


def _rows(runtime: Runtime) -> dict[str, int]:
    runtime.service.context.audit.flush()
    with runtime.db.read() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata.sorted_tables
        }


def _connection(**changes: Any) -> dict[str, Any]:
    return {
        "app": "sendgrid",
        "name": "SendGrid - Staging",
        "fields": {"api_key": GOOD_SENDGRID},
        "skip_test": True,
        **changes,
    }


def _zendesk(subdomain: Any) -> dict[str, Any]:
    fields = {"email": "agent@example.com", "api_token": "zd-token"}
    return _connection(
        app="zendesk", auth_kind="custom", fields=fields, config={"subdomain": subdomain}
    )


def _flow(name: str = "Welcome", step_id: Any = "mail", path: Any = "/v3/x") -> dict[str, Any]:
    step = {"id": step_id, "app": "sendgrid", "connection": "default", "type": "http"}
    return {"name": name, "definition": {"steps": [{**step, "http": {"path": path}}]}}


Request = tuple[str, str, dict[str, Any]]
# what the probe sent: (method, path, body) with the poison in one place; {cid}, {fid} and
# {hook} are the ids of a connection, a flow, and the flow's webhook path
CASES: dict[str, Callable[[Any], Request]] = {
    "connection name": lambda v: ("POST", "/api/v1/connections", _connection(name=v)),
    "connection rename": lambda v: ("PATCH", "/api/v1/connections/{cid}", {"name": v}),
    "connection metadata": lambda v: (
        "POST",
        "/api/v1/connections",
        _connection(metadata={"team": {"owner": v}}),
    ),
    "metadata update": lambda v: ("PATCH", "/api/v1/connections/{cid}", {"metadata": {"x": v}}),
    "credential fields": lambda v: (
        "POST",
        "/api/v1/connections",
        _connection(fields={"api_key": f"{GOOD_SENDGRID}{v}" if isinstance(v, str) else v}),
    ),
    "config": lambda v: ("POST", "/api/v1/connections", _zendesk(subdomain=v)),
    "run input": lambda v: ("POST", "/api/v1/flows/{fid}/runs", {"order": {"total": [1, v]}}),
    "webhook run input": lambda v: ("POST", "{hook}", {"event": v}),
    "webhook url": lambda v: (
        "POST",
        "/api/v1/webhooks",
        {"url": v if not isinstance(v, str) else f"https://hooks.example.com/{v}"},
    ),
    "flow definition": lambda v: ("POST", "/api/v1/flows", _flow("Second", step_id=v)),
    "flow update": lambda v: (
        "PATCH",
        "/api/v1/flows/{fid}",
        {"definition": _flow(path=v)["definition"]},
    ),
    "app definition": lambda v: ("POST", "/api/v1/apps", acme(description=v)),
    "oauth client": lambda v: (
        "POST",
        "/api/v1/oauth-clients",
        {"app": "gmail", "client_id": v, "client_secret": "s3cret"},
    ),
    "oauth client scopes": lambda v: (
        "POST",
        "/api/v1/oauth-clients",
        {"app": "gmail", "client_id": "Iv1.x", "client_secret": "s3cret", "scopes": [v]},
    ),
    "oauth session": lambda v: (
        "POST",
        "/api/v1/oauth/sessions",
        {"app": "github", "metadata": {"x": v}},
    ),
    "api key name": lambda v: ("POST", "/api/v1/api-keys", {"name": v}),
}


@pytest.fixture
def ids(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    first = _connection(name="SendGrid")
    cid = client.post("/api/v1/connections", json=first, headers=admin).json()["id"]
    client.post(
        "/api/v1/oauth-clients",
        json={"app": "github", "client_id": "Iv1.first", "client_secret": "s3cret"},
        headers=admin,
    ).raise_for_status()
    flow = client.post("/api/v1/flows", json=_flow(), headers=admin).json()
    hook = client.post(f"/api/v1/flows/{flow['id']}/webhook", headers=admin).json()["url"]
    return {"cid": cid, "fid": flow["id"], "hook": hook.split("//", 1)[1].split("/", 1)[1]}


@pytest.mark.parametrize("poison", list(POISONS))
@pytest.mark.parametrize("case", list(CASES))
def test_every_input_refuses_nul_and_non_finite_numbers(
    client: TestClient,
    runtime: Runtime,
    admin: dict[str, str],
    ids: dict[str, str],
    case: str,
    poison: str,
) -> None:
    method, path, body = CASES[case](POISONS[poison])
    path = "/" + path.format(**ids).lstrip("/")
    before = _rows(runtime)
    answer = client.request(
        method,
        path,
        content=json.dumps(body),  # json.dumps writes NaN and Infinity as Python reads them
        headers={**admin, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    assert problem["code"] == "invalid_input"
    assert problem["field"] == problem["errors"][0]["field"]
    assert ("NUL" if poison == "nul" else "finite") in problem["detail"]
    assert "s3cret" not in answer.text and GOOD_SENDGRID not in answer.text
    assert _rows(runtime) == before


@pytest.mark.parametrize("case", list(CASES))
def test_each_case_goes_through_with_clean_text(
    client: TestClient, admin: dict[str, str], ids: dict[str, str], case: str
) -> None:
    """The requests above are valid but for the poison: what refuses them is the poison."""
    method, path, body = CASES[case]("ab")
    answer = client.request(method, "/" + path.format(**ids).lstrip("/"), json=body, headers=admin)
    assert answer.status_code < 300, answer.text


def test_the_field_is_named_keys_included(client: TestClient, admin: dict[str, str]) -> None:
    named = client.post(
        "/api/v1/connections", json=_connection(metadata={"team": {"owner": NUL}}), headers=admin
    ).json()
    assert named["field"] == "metadata.team.owner"
    key = client.post(
        "/api/v1/connections", json=_connection(metadata={"bad\x00key": 1}), headers=admin
    ).json()
    assert (key["code"], key["field"]) == ("invalid_input", "metadata.bad\\u0000key")
    overflow = client.post(
        "/api/v1/connections",
        content=b'{"app": "sendgrid", "name": "x", "metadata": {"n": 1e999}}',
        headers={**admin, "Content-Type": "application/json"},
    ).json()
    assert (overflow["code"], overflow["field"]) == ("invalid_input", "metadata.n")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/connections?q=a%00b",
        "/api/v1/connections?app=%00",
        "/api/v1/apps?q=%00",
        "/api/v1/runs?flow=flow_%00",
        "/api/v1/audit?object=%00",
        "/api/v1/connections/conn_%00",
        "/api/v1/flows/flow_%00",
    ],
)
def test_queries_and_paths_refuse_nul(client: TestClient, admin: dict[str, str], path: str) -> None:
    answer = client.get(path, headers=admin)
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_input")
    assert answer.json()["field"] in ("path", f"query.{path.split('?')[-1].split('=')[0]}")


def test_form_fields_refuse_nul(
    client: TestClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    before = _rows(runtime)
    encoded = client.post(
        "/signin", content=b"api_key=gk_%00x", headers={"Content-Type": _FORM_URLENCODED}
    )
    assert (encoded.status_code, encoded.json()["field"]) == (422, "api_key")
    # Form routes take no files: multipart is refused before any part of it is parsed.
    multipart = client.post("/signin", files={"api_key": (None, "gk_\x00x")})
    assert (multipart.status_code, multipart.json()["code"]) == (415, "unsupported_media_type")
    assert _rows(runtime) == before


_FORM_URLENCODED = "application/x-www-form-urlencoded"


def test_clean_input_still_goes_through(client: TestClient, admin: dict[str, str]) -> None:
    body = _connection(metadata={"note": "tab\there, e\u0301, 0.5", "n": 1.5, "big": 10**30})
    created = client.post("/api/v1/connections", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["metadata"]["n"] == 1.5


@pytest.mark.parametrize(
    ("content", "line", "column", "reason"),
    [
        (b'{"app": "sendgrid", "name": "x",}', 1, 33, "Expecting property name enclosed in"),
        (b'{\n  "app": "sendgrid"\n  "name": "x"\n}', 3, 3, "Expecting ',' delimiter"),
        (b"{nope", 1, 2, "Expecting property name enclosed in"),
    ],
)
def test_malformed_json_says_where_it_stops_being_json(
    client: TestClient,
    runtime: Runtime,
    admin: dict[str, str],
    content: bytes,
    line: int,
    column: int,
    reason: str,
) -> None:
    before = _rows(runtime)
    headers = {**admin, "Content-Type": "application/json"}
    answer = client.post("/api/v1/connections", content=content, headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_input")
    [error] = answer.json()["errors"]
    assert (error["field"], error["line"], error["column"]) == ("body", line, column)
    assert error["message"].startswith(f"line {line}, column {column}: {reason}")
    assert answer.json()["detail"].endswith("send a JSON body (Content-Type: application/json)")
    assert _rows(runtime) == before


def test_a_body_that_is_not_utf_8_is_no_json(client: TestClient, admin: dict[str, str]) -> None:
    headers = {**admin, "Content-Type": "application/json"}
    answer = client.post("/api/v1/connections", content=b'{"app": "\xff"}', headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_input")
    assert answer.json()["errors"] == [{"field": "body", "message": "the text is not UTF-8"}]


@pytest.mark.parametrize("scopes", [["mail.send"], "mail.send", [""]])
def test_scopes_a_kind_does_not_take_are_refused_and_nothing_is_written(
    client: TestClient, admin: dict[str, str], runtime: Runtime, scopes: Any
) -> None:
    """``scopes`` on create are for kinds that ask for them as they obtain a token; an API key
    takes none, and a value that is not a list of names is refused by name."""
    before = _rows(runtime)
    answer = client.post("/api/v1/connections", json=_connection(scopes=scopes), headers=admin)
    assert answer.status_code in (400, 422), answer.text
    assert "scopes" in answer.text
    assert _rows(runtime) == before

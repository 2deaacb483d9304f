"""``api.problems``: every refusal is a problem document (RFC 9457) with a stable code; an
error's next step is said as the request that takes it, not in the service's words."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from gatekey import errors
from gatekey.api import problems
from gatekey.api.problems import next_step
from gatekey.runtime import Runtime
from gatekey.server import create_app
from tests.fakes.providers import GOOD_SENDGRID


def test_the_next_step_is_the_request_that_takes_it(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {"app": "github", "name": "GH", "fields": {"token": "x"}, "skip_test": True}
    refused = client.post("/api/v1/connections", json=body, headers=admin)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "invalid_input"
    assert problem["next"] == {
        "action": "start_authorization",
        "params": {"app": "github"},
        "request": "POST /api/v1/oauth/sessions",
    }
    assert problem["detail"].endswith("start an authorization (POST /api/v1/oauth/sessions)")
    assert "gatekey " not in problem["detail"], "no command of another adapter"


def test_every_next_step_has_a_rendering_here() -> None:
    for action in errors.NEXT_STEPS:
        step = next_step(errors.Hint(action, {"key": "k", "app": "a"}))
        assert step["action"] == action and (step.get("request") or step.get("command"))


def test_a_next_step_with_no_rendering_yet_still_names_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hint the service adds before this table has its line is no server error."""
    monkeypatch.delitem(problems.NEXT_STEP, "replace_app")
    step = next_step(errors.Hint("replace_app", {"key": "acme"}))
    assert step == {"action": "replace_app", "params": {"key": "acme"}}
    refused = errors.Conflict("taken", hint=errors.Hint("replace_app", {"key": "acme"}))
    assert problems.detail_of(refused) == "taken"


def test_a_rendering_names_the_hint_s_params(monkeypatch: pytest.MonkeyPatch) -> None:
    step = next_step(errors.Hint("replace_app", {"key": "acme"}))
    assert step["request"] == "PUT /api/v1/apps/acme"
    assert next_step(errors.Hint("replace_app"))["request"] == "PUT /api/v1/apps/{key}"
    monkeypatch.setitem(problems.NEXT_STEP, "replace_app", {"body": '{"key": "{key}"}'})
    assert next_step(errors.Hint("replace_app", {"key": "acme"}))["body"] == '{"key": "acme"}'


STATUSES = {
    "account_mismatch": 400,
    "discovery_failed": 400,
    "app_exists": 409,
    "app_in_use": 409,
    "auth_failed": 500,
    "auth_method_retired": 422,
    "authorization_failed": 400,
    "conflict": 409,
    "connection_in_use": 409,
    "connection_inactive": 409,
    "crypto_error": 500,
    "database_unavailable": 503,
    "decryption_failed": 500,
    "destination_blocked": 422,
    "duplicate_name": 409,
    "forbidden": 403,
    "gatekey_error": 500,
    "grant_revoked": 409,
    "http_error": 400,
    "insecure_home": 422,
    "invalid_app_definition": 422,
    "invalid_credentials": 422,
    "invalid_fields": 422,
    "invalid_id": 400,
    "invalid_input": 422,
    "invalid_name": 422,
    "key_in_use": 409,
    "master_key_missing": 500,
    "method_not_allowed": 405,
    "missing_scopes": 409,
    "not_found": 404,
    "oauth_access_denied": 400,
    "oauth_client_missing": 422,
    "oauth_client_rejected": 502,
    "oauth_issuer_mismatch": 400,
    "oauth_session_expired": 400,
    "oauth_state_invalid": 400,
    "oauth_token_exchange_failed": 400,
    "payload_too_large": 413,
    "provider_unavailable": 502,
    "rate_limited": 429,
    "step_exited": 500,
    "step_failed": 500,
    "step_memory_exceeded": 500,
    "step_not_registered": 500,
    "step_sandbox_failed": 500,
    "step_timeout": 500,
    "template_error": 422,
    "token_request_refused": 502,
    "unauthenticated": 401,
    "unknown_app": 422,
    "unsupported_media_type": 415,
}
"""Every code and its status, as the README's error table must say them: a new error class,
or a status changed, fails here first (then update the README's table)."""


def test_every_code_has_the_status_the_readme_says() -> None:
    assert problems.statuses() == STATUSES


@pytest.mark.parametrize(
    ("code", "make"),
    [
        ("invalid_name", lambda c: c.post("/api/v1/connections", json={**_SG, "name": ""})),
        ("unknown_app", lambda c: c.post("/api/v1/connections", json={**_SG, "app": "nope"})),
        ("invalid_fields", lambda c: c.post("/api/v1/connections", json={**_SG, "fields": {}})),
        ("invalid_input", lambda c: c.post("/api/v1/connections", json={"name": "x"})),
        ("invalid_id", lambda c: c.get("/api/v1/connections/nope")),
        ("not_found", lambda c: c.get("/api/v1/connections/conn_01J0000000000000000000000X")),
        ("unsupported_media_type", lambda c: c.post("/api/v1/connections", data={"a": "b"})),
        ("method_not_allowed", lambda c: c.put("/api/v1/connections")),
    ],
)
def test_a_refusal_answers_the_status_of_its_code(
    client: TestClient, admin: dict[str, str], code: str, make: Any
) -> None:
    client.headers.update(admin)
    answer = make(client)
    assert (answer.json()["code"], answer.status_code) == (code, STATUSES[code]), answer.text
    assert answer.json()["status"] == answer.status_code


_SG = {"app": "sendgrid", "name": "SG", "fields": {"api_key": GOOD_SENDGRID}, "skip_test": True}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/connections", {**_SG, "fields": 3}, "fields"),
        (
            "/api/v1/connections/{id}/credentials",
            {"required_scopes": ["a", 1]},
            "required_scopes.1",
        ),
        ("/api/v1/oauth/sessions", {"app": "github", "scopes": "repo"}, "scopes"),
        ("/api/v1/connections?limit=abc", None, "query.limit"),
        ("/api/v1/connections/{id}/credentials", {"stale_token": 5}, "stale_token"),
    ],
)
def test_a_validation_error_names_a_field_path(
    client: TestClient, admin: dict[str, str], path: str, body: Any, field: str
) -> None:
    created = client.post("/api/v1/connections", json={**_SG, "name": "Other"}, headers=admin)
    path = path.format(id=created.json()["id"])
    answer = (
        client.get(path, headers=admin)
        if body is None
        else client.post(path, json=body, headers=admin)
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_input")
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert answer.json()["detail"].startswith(f"invalid request: {field}: ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "send a JSON body (Content-Type: application/json)"),
        (b"[1, 2]", "the body must be a JSON object"),
        (b'"a string"', "the body must be a JSON object"),
    ],
)
def test_a_body_that_is_no_json_object_says_so(
    client: TestClient, admin: dict[str, str], content: bytes | None, message: str
) -> None:
    headers = {**admin, "Content-Type": "application/json"}
    answer = client.post("/api/v1/connections", content=content, headers=headers)
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_input")
    assert answer.json()["errors"] == [{"field": "body", "message": message}]


def test_an_unforeseen_failure_is_a_problem_document_too(runtime: Runtime) -> None:
    app = create_app(runtime)

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("a bug, with CANARY-secret in its message")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/v1/boom")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "gatekey_error"
    assert "CANARY" not in answer.text

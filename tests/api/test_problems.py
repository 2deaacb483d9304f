"""``api.problems``: every refusal is a problem document (RFC 9457) with a stable code; an
error's next step is said as the request that takes it, not in the service's words."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gatekey import errors
from gatekey.api.problems import next_step


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

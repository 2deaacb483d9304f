from __future__ import annotations

from typing import Any

import pytest

from gatekey.domain.flows import parse
from gatekey.errors import InvalidFields


def _http(step_id: str, path: str = "/me", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "app": "sendgrid", "type": "http", "http": {"path": path, **extra}}


def test_a_valid_flow_with_templates_naming_earlier_steps() -> None:
    flow = parse(
        {
            "steps": [
                _http("find", "/contacts?email={{ input.email }}"),
                _http(
                    "mail", "/mail/send", method="POST", body={"to": "{{ steps.find.output.id }}"}
                ),
            ]
        }
    )
    assert [s.id for s in flow.steps] == ["find", "mail"]


@pytest.mark.parametrize(
    ("steps", "field", "says"),
    [
        ([_http("a"), _http("a")], "steps.1.id", "used twice"),
        ([_http("a", "/x/{{ steps.b.output.id }}"), _http("b")], "steps.0.http", "does not come"),
        ([_http("a", "/x/{{ secrets.key }}")], "steps.0.http", "is not input"),
        ([_http("a", "https://evil.example/")], "steps.0.http", "relative"),
        ([_http("a", "/x", headers={"Authorization": "x"})], "steps.0.http", "authentication"),
        ([{"id": "a", "app": "sendgrid", "type": "python"}], "steps.0", "python"),
        (
            [{"id": "A b", "app": "sendgrid", "type": "http", "http": {"path": "/"}}],
            "steps.0.id",
            "",
        ),
    ],
)
def test_bad_flows_point_at_the_step(steps: list[dict[str, Any]], field: str, says: str) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse({"steps": steps})
    errors = caught.value.details["errors"]
    assert any(e["field"].startswith(field) and says in e["message"] for e in errors), errors


def test_a_flow_needs_steps() -> None:
    with pytest.raises(InvalidFields):
        parse({"steps": []})

from __future__ import annotations

from typing import Any

import pytest

from gatekey.domain.flows import parse, render, render_headers
from gatekey.errors import InvalidFields, TemplateError
from tests.fakes.timing import within


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


def _step_with(**http: Any) -> dict[str, Any]:
    return {"steps": [_http("a", **http)]}


@pytest.mark.parametrize(
    "text",
    [
        "{{" + " " * 2_000,  # on re: 5.8 s each, holding the GIL (the pattern was cubic)
        "{{" + " " * 9_998,
        "{{" + "\t" * 4_999 + "x" + " " * 5_000,
        "{" * 10_000,
        "{{ a" * 2_500,
    ],
)
def test_template_scanning_is_linear_in_the_text(text: str) -> None:
    """Query and body values have no length limit; on ``re`` eight 2,000-space values held the
    GIL for 46 s, and one 10,000-character value for about twelve minutes."""
    definition = _step_with(query={f"q{i}": text for i in range(8)}, body={"note": text})

    flow = within(30, lambda: parse(definition))

    assert flow.steps[0].http is not None
    assert within(30, lambda: render(text, {"input": {}})) == text


def test_templates_are_found_where_they_were() -> None:
    context = {"input": {"a": 1, "b": [2], "c": "x"}, "steps": {"s": {"output": {"id": 7}}}}

    assert render("{{ input.a }}", context) == 1
    assert render("  {{input.b}} ", context) == [2]
    assert render("{{\n input.c \u00a0}}", context) == "x"
    assert render("/u/{{ input.a }}/{{ steps.s.output.id }}", context) == "/u/1/7"
    assert render("{{ input.c }}{{ input.c }}", context) == "xx"  # used to say "has no value"
    assert render("{{ input.c }} }}", context) == "x }}"
    assert render("{{ input\n.c }}", context) == "{{ input\n.c }}"  # not a template, as on re
    assert render({"{{ input.c }}": ["{{ input.a }}"]}, context) == {"x": [1]}


def test_a_long_template_error_is_shortened() -> None:
    with pytest.raises(InvalidFields) as caught:
        parse(_step_with(query={"q": "{{ " + "x" * 10_000 + " }}"}))
    [error] = caught.value.details["errors"]
    assert error["field"] == "steps.0.http" and len(error["message"]) < 200


@pytest.mark.parametrize(
    ("headers", "field", "says"),
    [
        ({"X-Trace": "1\r\nX-Evil: 1"}, "steps.0.http.headers.X-Trace", "carriage return (CR)"),
        ({"X-Trace": "{{ input.a }}\nX-Evil: 1"}, "steps.0.http.headers.X-Trace", "line feed"),
        ({"X-Trace": "a\x00b"}, "steps.0.http.headers.X-Trace", "control character U+0000"),
        ({"X-Trace": "café"}, "steps.0.http.headers.X-Trace", "non-ASCII character U+00E9"),
        ({"X-Key\r\nX-Evil": "1"}, "steps.0.http.headers.X-Key\\r\\nX-Evil", "header name"),
        ({"X Trace": "1"}, "steps.0.http.headers.X Trace", "found a space"),
        ({"": "1"}, "steps.0.http.headers.", "may not be empty"),
        ({"X-{{ input.h }}": "1"}, "steps.0.http.headers.X-{{ input.h }}", "template"),
    ],
)
def test_header_text_is_refused_at_definition_naming_the_header(
    headers: dict[str, str], field: str, says: str
) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse(_step_with(headers=headers))
    errors = caught.value.details["errors"]
    assert [e["field"] for e in errors] == [field]
    assert says in errors[0]["message"]
    assert "\r" not in str(errors) and "\n" not in str(errors)


def test_header_values_filled_from_run_data_are_checked_before_sending() -> None:
    context = {"input": {"trace": "abc", "evil": "abc\r\nX-Evil: 1", "obj": {"k": 1}}}

    assert render_headers({"X-Trace": "t-{{ input.trace }}"}, context) == {"X-Trace": "t-abc"}
    assert render_headers({"X-Obj": "{{ input.obj }}"}, context) == {"X-Obj": "{'k': 1}"}
    with pytest.raises(TemplateError) as caught:
        render_headers({"X-Trace": "{{ input.evil }}"}, context)
    assert caught.value.code == "template_error"
    assert caught.value.details["errors"] == [
        {
            "field": "http.headers.X-Trace",
            "message": "a header value holds visible ASCII, spaces and tabs; "
            "found a carriage return (CR)",
        }
    ]
    assert "X-Evil" not in caught.value.message


def test_a_lone_surrogate_is_refused_not_a_crash() -> None:
    with pytest.raises(InvalidFields) as caught:
        parse(_step_with(query={"q": "\ud800"}))
    assert [e["field"] for e in caught.value.details["errors"]] == ["steps.0.http"]

"""``gatekey.problem_documents``: an error response back as the exception the server raised."""

from __future__ import annotations

import pytest

from gatekey import errors
from gatekey.problem_documents import error_of


def test_a_problem_document_is_its_class_with_its_details_and_hint() -> None:
    found = error_of(
        409,
        {
            "type": "urn:gatekey:problem:connection_in_use",
            "status": 409,
            "code": "connection_in_use",
            "detail": "used by 1 flow(s): Mail",
            "flows": ["Mail"],
            "next": {"action": "replace_app", "params": {"key": "crm"}, "request": "PUT ..."},
        },
    )
    assert type(found) is errors.ConnectionInUse
    assert found.message == "used by 1 flow(s): Mail" and found.details["flows"] == ["Mail"]
    assert found.details["status"] == 409
    assert found.hint == errors.Hint("replace_app", {"key": "crm"})


@pytest.mark.parametrize(
    "body",
    [None, ["not", "a", "document"], "text", {"code": 7}, {"code": "no_such_code", "detail": ""}],
)
def test_anything_else_is_a_plain_error_saying_the_status(body: object) -> None:
    found = error_of(502, body)
    assert type(found) is errors.GatekeyError and found.message == "HTTP 502"
    assert found.hint is None


def test_an_unknown_next_step_is_no_hint() -> None:
    assert error_of(400, {"code": "invalid_input", "next": {"action": "reboot"}}).hint is None

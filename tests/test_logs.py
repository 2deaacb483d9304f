"""Logs: JSON lines on request, and the redacting formatter as the last line of defence."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from gatekey import logs

CANARIES = {
    "Authorization: Bearer ya29.CANARYaccessTOKEN0001": "ya29.CANARY",
    "sent Basic Q0FOQVJZOmh1bnRlcjI=": "Q0FOQVJZ",
    "api key gk_CANARYadminKEY0123456789abcdef": "CANARYadminKEY",
    "postgresql://gatekey:CANARYdbPASS@db.internal/gatekey": "CANARYdbPASS",
    '{"access_token": "CANARYat01", "refresh_token": "CANARYrt01"}': "CANARY",
    "refresh_token=CANARYrt02&client_secret=CANARYcs02&grant_type=refresh_token": "CANARY",
    "callback ?code=CANARYcode03&state=abc": "CANARYcode03",
    "X-Api-Key: CANARYxkey04": "CANARYxkey04",
    "password='CANARYpw05'": "CANARYpw05",
    "code_verifier=CANARYverifier06": "CANARYverifier06",
}

KEPT = [
    "connection conn_01JD3W6ZK2Q8V5N0C7H9X4T1RB refreshed (sandbox)",
    "authorization session oas_01JD3W6ZK2Q8V5N0C7H9X4T1RB failed: provider_unavailable",
    "test request to sendgrid failed: ConnectTimeout",
    "3 tokens refreshed in 0.21 s",
]


@pytest.mark.parametrize("line", list(CANARIES))
def test_credentials_in_a_line_are_masked(line: str) -> None:
    masked = logs.redact(line)
    assert CANARIES[line] not in masked
    assert logs.REDACTED in masked


@pytest.mark.parametrize("line", KEPT)
def test_ordinary_lines_are_kept(line: str) -> None:
    assert logs.redact(line) == line


@pytest.fixture
def configured() -> Iterator[None]:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    yield
    root.handlers[:] = before[0]
    root.setLevel(before[1])


def test_json_lines_redact_messages_and_tracebacks(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("DEBUG", "json")
    log = logging.getLogger("gatekey.test")
    log.info("token request answered %s", '{"access_token": "CANARYat07"}')
    try:
        raise ValueError("client_secret=CANARYcs08 was refused")
    except ValueError:
        log.exception("refresh of %s failed", "conn_1")
    logging.getLogger("some.library").warning("Bearer CANARYbearer0009 in a header")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(e["level"], e["logger"]) for e in lines] == [
        ("info", "gatekey.test"),
        ("error", "gatekey.test"),
        ("warning", "some.library"),
    ]
    assert lines[1]["message"] == "refresh of conn_1 failed"
    assert "ValueError" in lines[1]["exception"]
    assert "CANARY" not in json.dumps(lines)


def test_text_lines_and_a_second_configure_replaces_the_first(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("INFO", "text")
    logs.configure("INFO", "text")
    logging.getLogger("gatekey.test").info("password=CANARYpw10")
    logging.getLogger("gatekey.test").debug("not at INFO")
    err = capsys.readouterr().err
    assert err.count("gatekey.test") == 1
    assert "CANARY" not in err and "password=[redacted]" in err

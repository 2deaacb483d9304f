"""Logs: JSON lines on request, and the redacting formatter as the last line of defence."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from gatekey import logs
from tests.fakes.timing import within

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
    # how a text line names its logger: the first word of the message used to be masked
    "gatekey.service.tokens: connection x",
    "2025-01-02 03:04:05,006 INFO gatekey.service.tokens: connection conn_1 refreshed",
    "gatekey.oauth.flights: token request for conn_1 answered",
]


@pytest.mark.parametrize("line", list(CANARIES))
def test_credentials_in_a_line_are_masked(line: str) -> None:
    masked = logs.redact(line)
    assert CANARIES[line] not in masked
    assert logs.REDACTED in masked


@pytest.mark.parametrize("line", KEPT)
def test_ordinary_lines_are_kept(line: str) -> None:
    assert logs.redact(line) == line


def test_a_logger_name_does_not_hide_a_credential_after_it() -> None:
    line = "gatekey.service.tokens: refresh_token=CANARYrt11 password: CANARYpw12"
    assert logs.redact(line) == (
        "gatekey.service.tokens: refresh_token=[redacted] password: [redacted]"
    )
    assert logs.redact("settings.password=CANARYpw13") == "settings.password=[redacted]"
    assert logs.redact('{"db.password": "CANARYpw14"}') == '{"db.password": "[redacted]"}'


def test_credentials_next_to_non_ascii_text_are_still_masked() -> None:
    assert logs.redact("mot de passe: é password=CANARYpw16 é") == (
        "mot de passe: é password=[redacted] é"
    )
    assert "CANARY" not in logs.redact("éBearer token=CANARYx17")
    assert logs.redact("bad \ud800 password=CANARYpw18") == "bad \\ud800 password=[redacted]"


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


@pytest.mark.parametrize(
    "value",
    [
        "token-" * 1_667,  # on re: 53 s for 4,000 characters, cubic
        "-a" * 5_000,  # on re: 12 s a line, quadratic
        "gk-" * 3_334,  # on re: 6.4 s a line
        "https://" + "a:" * 5_000,
        "Bearer" + " " * 10_000,
        "x." * 5_000 + "token",
    ],
    ids=["token-", "-a", "gk-", "url", "bearer-spaces", "dotted"],
)
def test_lines_with_a_long_tenant_value_are_redacted_in_linear_time(
    configured: None, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """Log lines carry tenant text (names, messages, URLs): five lines with a 10,000-character
    value each held the GIL for a minute or more on re; now they pass at once."""
    logs.configure("INFO", "text")
    log = logging.getLogger("gatekey.test")

    def emit() -> None:
        for _ in range(5):
            log.info("app %s refused client_secret=%s", value, "CANARYcs15")

    within(30, emit)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 5
    assert all(value[:9_000] in line and "CANARY" not in line for line in lines)
    assert within(30, lambda: logs.redact(value)) == value


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

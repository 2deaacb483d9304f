"""``domain.answers``: an answer read by its status and, where the app says so, its body."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from gatekey.domain.answers import expired, failed, said
from gatekey.domain.bodies import MAX_READ, BodyRule

JSON = "application/json; charset=utf-8"


@dataclass
class Rules:
    expired_token_status: list[int] = field(default_factory=lambda: [401])
    expired_when: BodyRule | None = None
    ok_when: BodyRule | None = None
    error_paths: list[str] = field(default_factory=lambda: ["error"])


SLACK = Rules(
    expired_when=BodyRule(path="error", one_of=["token_expired"]),
    ok_when=BodyRule(path="ok", one_of=[True]),
)


def _body(**values: object) -> bytes:
    return json.dumps(values).encode()


def test_an_expired_token_by_status_or_by_body() -> None:
    assert expired(SLACK, 401, "text/plain", b"")
    assert expired(SLACK, 200, JSON, _body(ok=False, error="token_expired"))
    assert not expired(SLACK, 200, JSON, _body(ok=False, error="invalid_auth"))
    assert not expired(Rules(), 200, JSON, _body(ok=False, error="token_expired"))
    assert expired(Rules(expired_token_status=[]), 401, JSON, b"{}", unless=[401])


def test_a_body_is_read_only_when_small_json() -> None:
    says = _body(ok=False, error="token_expired")
    assert not expired(SLACK, 200, "text/html", says)
    assert not expired(SLACK, 200, JSON, says + b" " * MAX_READ)
    assert not expired(SLACK, 200, JSON, b"{not json")


def test_a_2xx_whose_body_fails_ok_when_is_a_failure() -> None:
    assert failed(SLACK, 200, JSON, _body(ok=False, error="channel_not_found"))
    assert failed(SLACK, 200, JSON, _body(ok=1)), "1 is not true"
    assert not failed(SLACK, 200, JSON, _body(ok=True))
    assert not failed(SLACK, 404, JSON, _body(ok=False)), "a 4xx fails by its status already"
    assert not failed(Rules(), 200, JSON, _body(ok=False))


def test_the_answer_in_a_few_words() -> None:
    assert said(SLACK, 200, JSON, _body(ok=False, error="invalid_auth")) == "HTTP 200: invalid_auth"
    assert said(SLACK, 401, "text/plain", b"denied") == "HTTP 401"

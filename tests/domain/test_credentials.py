"""``domain.credentials``: what an execution is handed, and the errors that name a connection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from gatekey.catalog.schema import App
from gatekey.domain.apply import AppliedAuth
from gatekey.domain.bodies import BodyRule
from gatekey.domain.credentials import copy_of, handed_out, inactive_error
from gatekey.errors import Hint
from tests.fakes.slack import SLACK_APP


class Row(NamedTuple):
    id: str = "conn_1"
    app_key: str = "sandbox"
    auth_kind: str = "oauth2"
    config: dict[str, Any] = {"region": "eu"}
    expires_at: datetime | None = datetime(2026, 12, 1, tzinfo=UTC)


OAUTH = App.model_validate(SLACK_APP)
KEYED = App.model_validate(
    {
        **SLACK_APP,
        "auth": [
            {
                "kind": "api_key",
                "fields": {"properties": {"api_key": {"title": "Key", "secret": True}}},
                "apply": [{"type": "bearer", "value": "{api_key}"}],
                "responses": SLACK_APP["auth"][0]["responses"],
            }
        ],
    }
)
AUTH = AppliedAuth(
    "https://api.example.com",
    {"Authorization": "Bearer at", "Api-Version": "2"},
    {"k": "v"},
    overridable=frozenset({"Api-Version"}),
)


def test_oauth2_hands_out_the_access_token_only() -> None:
    secret = {"access_token": "at", "refresh_token": "rt-CANARY", "scope": "x"}
    values = handed_out(Row(), OAUTH, OAUTH.method(), secret, AUTH)
    assert values["fields"] == {"access_token": "at"}
    assert "CANARY" not in repr(values)
    assert values["token_type"] == "Bearer"
    assert values["expired_token_status"] == [401]
    assert values["auth_kind"].value == "oauth2"


def test_the_rules_for_reading_answers_are_handed_out_as_plain_data() -> None:
    values = handed_out(Row(), OAUTH, OAUTH.method(), {"access_token": "at"}, AUTH)
    assert values["ok_when"] == BodyRule(path="ok", one_of=[True])
    assert values["expired_when"] == BodyRule(path="error", one_of=["token_expired"])
    assert values["error_paths"] == ["error"]
    assert values["overridable_headers"] == ["Api-Version"]


def test_only_an_oauth2_token_can_expire_by_the_body_and_errors_are_read_where_usual() -> None:
    """A key is never refreshed, so a body rule for expiry means nothing for it; ``ok_when``
    holds for every kind. Without a test request, the usual error paths."""
    row = Row(auth_kind="api_key", expires_at=None)
    values = handed_out(row, KEYED, KEYED.method(), {"api_key": "k"}, AUTH)
    assert values["expired_when"] is None and values["expired_token_status"] == []
    assert values["ok_when"] == BodyRule(path="ok", one_of=[True])
    assert values["error_paths"][:2] == ["errors.0.message", "error.message"]


def test_other_kinds_hand_out_their_fields_and_every_value_is_a_copy() -> None:
    row = Row(auth_kind="api_key", expires_at=None)
    secret = {"api_key": "k"}
    values = handed_out(row, KEYED, KEYED.method(), secret, AUTH)
    assert values["fields"] == secret and values["token_type"] is None
    for name, source in [("fields", secret), ("config", row.config), ("headers", AUTH.headers)]:
        assert values[name] == source and values[name] is not source
    assert values["basic"] is None and values["expired_token_status"] == []


def test_a_copy_shares_no_mutable_value_with_what_it_copies() -> None:
    values = handed_out(Row(), OAUTH, OAUTH.method(), {"access_token": "at"}, AUTH)
    copied = copy_of(values)
    assert copied == values
    mutable = (
        "fields",
        "config",
        "headers",
        "query",
        "expired_token_status",
        "error_paths",
        "overridable_headers",
    )
    for name in mutable:
        assert copied[name] is not values[name]
    assert {k for k, v in values.items() if isinstance(v, dict | list)} == set(mutable)


def test_an_inactive_connection_is_named_with_its_reason_and_what_brings_it_back() -> None:
    error = inactive_error(
        "conn_1", "Gmail", "inactive", "revoked", None, app_key="gmail", auth_kind="oauth2"
    )
    assert error.message == "connection 'Gmail' (conn_1) is inactive: revoked; reconnect it"
    assert error.details == {"id": "conn_1", "reason": "revoked"}
    assert error.hint == Hint("reconnect", {"id": "conn_1", "app": "gmail"})
    keyed = inactive_error(
        "conn_2",
        "SG",
        "inactive",
        "invalid_credentials",
        "refused",
        app_key="x",
        auth_kind="bearer",
    )
    assert keyed.message == "connection 'SG' (conn_2) is inactive: refused; give it new credentials"
    assert keyed.hint is None

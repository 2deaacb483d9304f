"""``domain.credentials``: what an execution is handed, and the errors that name a connection."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from gatekey.catalog.schema import OAuth2Spec
from gatekey.domain.apply import AppliedAuth
from gatekey.domain.credentials import copy_of, handed_out, inactive_error
from gatekey.errors import Hint


class Row(NamedTuple):
    id: str = "conn_1"
    app_key: str = "sandbox"
    auth_kind: str = "oauth2"
    config: dict[str, Any] = {"region": "eu"}
    expires_at: datetime | None = datetime(2026, 12, 1, tzinfo=UTC)


SPEC = OAuth2Spec.model_validate(
    {
        "authorization_url": "https://idp.example.com/authorize",
        "token_url": "https://idp.example.com/token",
        "expired_token_status": [401, 403],
    }
)
AUTH = AppliedAuth("https://api.example.com", {"Authorization": "Bearer at"}, {"k": "v"})


def test_oauth2_hands_out_the_access_token_only() -> None:
    secret = {"access_token": "at", "refresh_token": "rt-CANARY", "scope": "x"}
    values = handed_out(Row(), SPEC, secret, AUTH)
    assert values["fields"] == {"access_token": "at"}
    assert "CANARY" not in repr(values)
    assert values["token_type"] == "Bearer"
    assert values["expired_token_status"] == [401, 403]
    assert values["auth_kind"].value == "oauth2"


def test_other_kinds_hand_out_their_fields_and_every_value_is_a_copy() -> None:
    row = Row(auth_kind="api_key", expires_at=None)
    secret = {"api_key": "k"}
    values = handed_out(row, None, secret, AUTH)
    assert values["fields"] == secret and values["token_type"] is None
    for name, source in [("fields", secret), ("config", row.config), ("headers", AUTH.headers)]:
        assert values[name] == source and values[name] is not source
    assert values["basic"] is None and values["expired_token_status"] == []


def test_a_copy_shares_no_mutable_value_with_what_it_copies() -> None:
    values = handed_out(Row(), SPEC, {"access_token": "at"}, AUTH)
    copied = copy_of(values)
    assert copied == values
    mutable = ("fields", "config", "headers", "query", "expired_token_status")
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

"""The public models: ``Credentials.trusted`` builds exactly what ``model_construct`` does, and
what the HTTP SDK reads back is what the server handed out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gatekey.catalog.schema import AuthKind
from gatekey.domain.bodies import BodyRule
from gatekey.models import BasicAuth, Credentials


def test_trusted_equals_model_construct() -> None:
    values = {
        "connection_id": "conn_01JD3W6ZK2Q8V5N0C7H9X4T1RB",
        "app": "twilio",
        "auth_kind": AuthKind.BASIC,
        "fields": {"account_sid": "AC1", "auth_token": "CANARY"},
        "config": {"region": "eu"},
        "base_url": "https://api.twilio.com",
        "headers": {},
        "query": {"a": "b"},
        "basic": BasicAuth.model_construct(username="AC1", password="CANARY"),
        "expires_at": datetime(2026, 11, 30, tzinfo=UTC),
        "token_type": None,
        "expired_token_status": [401],
        "expired_when": None,
        "ok_when": BodyRule(path="ok", one_of=[True]),
        "error_paths": ["message"],
        "overridable_headers": [],
        "signing": None,
        "client_certificate": None,
    }
    fast = Credentials.trusted(dict(values))
    slow = Credentials.model_construct(**dict(values))
    assert fast == slow
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.model_fields_set == slow.model_fields_set
    assert repr(fast) == repr(slow) and "CANARY" not in repr(fast)
    with pytest.raises(TypeError, match="exactly"):
        Credentials.trusted({"connection_id": "x"})


def test_the_body_rules_come_back_from_json_as_they_were_with_their_types() -> None:
    """What ``Client.resolve_credentials`` reads: ``true`` stays a bool, ``1`` an int, so a
    caller's ``holds`` answers as the server's would."""
    sent = Credentials(
        connection_id="conn_1",
        app="slack",
        auth_kind=AuthKind.OAUTH2,
        fields={"access_token": "CANARY"},
        config={},
        base_url="https://slack.com/api",
        headers={"Authorization": "Bearer CANARY", "Notion-Version": "2026-03-11"},
        query={},
        expired_when=BodyRule(path="error", one_of=["token_expired", 1, None]),
        ok_when=BodyRule(path="ok", one_of=[True]),
        error_paths=["error"],
        overridable_headers=["Notion-Version"],
    )
    read = Credentials.model_validate_json(sent.model_dump_json())
    assert read == sent
    assert read.ok_when is not None and read.expired_when is not None
    assert [type(v) for v in read.expired_when.one_of] == [str, int, type(None)]
    assert read.ok_when.holds({"ok": True}) and not read.ok_when.holds({"ok": 1})
    assert read.expired_when.holds({"ok": False, "error": "token_expired"})

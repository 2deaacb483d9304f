"""The public models: ``Credentials.trusted`` builds exactly what ``model_construct`` does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gatekey.catalog.schema import AuthKind
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
    }
    fast = Credentials.trusted(dict(values))
    slow = Credentials.model_construct(**dict(values))
    assert fast == slow
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.model_fields_set == slow.model_fields_set
    assert repr(fast) == repr(slow) and "CANARY" not in repr(fast)
    with pytest.raises(TypeError, match="exactly"):
        Credentials.trusted({"connection_id": "x"})

from __future__ import annotations

import pytest

from gatekey.catalog.loader import load_catalog
from gatekey.domain.fields import MAX_VALUE_BYTES, mask, split, validate
from gatekey.errors import InvalidFields, PayloadTooLarge

CATALOG = load_catalog()
SENDGRID = CATALOG.get("sendgrid").method().fields
TWILIO = CATALOG.get("twilio").method().fields
ZENDESK_CONFIG = CATALOG.get("zendesk").method().config


def test_valid_fields_pass() -> None:
    assert validate(SENDGRID, {"api_key": "SG.abc.def"}) == {"api_key": "SG.abc.def"}


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({}, "fields.api_key", "is required"),
        ({"api_key": "SG.a.b", "extra": "x"}, "fields.extra", "is not a field of this app"),
        ({"api_key": 12345}, "fields.api_key", "string"),
        ({"api_key": ""}, "fields.api_key", "must not be empty"),
        ({"api_key": "not-a-sendgrid-key"}, "fields.api_key", "does not look like a API key"),
    ],
)
def test_invalid_fields_are_reported_per_field(values: dict, field: str, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidFields) as caught:
        validate(SENDGRID, values)
    errors = caught.value.details["errors"]
    assert any(e["field"] == field and message in e["message"] for e in errors), errors


def test_error_never_echoes_the_value() -> None:
    with pytest.raises(InvalidFields) as caught:
        validate(TWILIO, {"account_sid": "CANARY-not-a-sid", "auth_token": "CANARYTOKEN"})
    assert "CANARY" not in str(caught.value.message) + str(caught.value.details)


def test_values_over_64_kib_are_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        validate(SENDGRID, {"api_key": "SG." + "a" * MAX_VALUE_BYTES})


def test_config_pattern() -> None:
    assert validate(ZENDESK_CONFIG, {"subdomain": "acme"}, what="config") == {"subdomain": "acme"}
    with pytest.raises(InvalidFields, match=r"config\.subdomain"):
        validate(ZENDESK_CONFIG, {"subdomain": "evil.com/x"}, what="config")


def test_split_masks_secret_fields_only() -> None:
    public, secret = split(TWILIO, {"account_sid": "AC123", "auth_token": "abcdefghijklmnop1234"})
    assert public == {"account_sid": "AC123", "auth_token": "••••1234"}
    assert secret["auth_token"] == "abcdefghijklmnop1234"


def test_short_secrets_show_no_characters() -> None:
    assert mask("short") == "••••"

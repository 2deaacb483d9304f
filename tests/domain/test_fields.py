from __future__ import annotations

import pytest

from gatekey.catalog.loader import load_catalog
from gatekey.catalog.schema import App, FieldsSchema
from gatekey.domain.fields import MAX_VALUE_BYTES, mask, split, validate
from gatekey.domain.patterns import MAX_TEXT_BYTES
from gatekey.errors import InvalidFields, PayloadTooLarge
from tests.fakes.apps import portal
from tests.fakes.timing import within

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
        ({"api_key": "not-a-sendgrid-key"}, "fields.api_key", "does not look like an API key"),
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


def _schema(**spec: object) -> FieldsSchema:
    return FieldsSchema.model_validate(
        {"required": ["key"], "properties": {"key": {"title": "Key", **spec}}}
    )


def test_a_catastrophic_pattern_answers_at_once() -> None:
    """``^(a+)+$`` backtracked for hours on 10,000 characters; RE2 answers right away."""
    schema = _schema(pattern=r"^(a+)+$")
    outcome: list[str] = []

    def work() -> None:
        for value in ("a" * 29 + "!", "a" * 9_999 + "!"):
            try:
                validate(schema, {"key": value})
            except InvalidFields as exc:
                outcome.append(exc.details["errors"][0]["message"])
        outcome.append(validate(schema, {"key": "a" * 10_000})["key"][:3])

    within(30, work)
    assert outcome == ["does not look like a Key", "does not look like a Key", "aaa"]


def test_a_value_too_long_for_its_pattern_is_refused_naming_the_field() -> None:
    schema = _schema(pattern=r"^a+$")
    assert validate(schema, {"key": "a" * MAX_TEXT_BYTES})
    with pytest.raises(InvalidFields) as caught:
        validate(schema, {"key": "a" * (MAX_TEXT_BYTES + 1)})
    assert caught.value.details["errors"] == [
        {
            "field": "fields.key",
            "message": f"is longer than {MAX_TEXT_BYTES} bytes, too long to check against "
            "its pattern",
        }
    ]
    assert validate(_schema(), {"key": "a" * (MAX_TEXT_BYTES + 1)})  # no pattern, no bound


def test_a_value_that_is_not_unicode_is_invalid_not_a_crash() -> None:
    with pytest.raises(InvalidFields) as caught:
        validate(_schema(), {"key": "SG.a\ud800.b"})
    assert caught.value.details["errors"] == [
        {"field": "fields.key", "message": "is not valid Unicode text"}
    ]


@pytest.mark.parametrize(
    ("spec", "good", "bad"),
    [
        ({"format": "email"}, "a@b.test", ["a b@c.test", "a@b\u00a0c.test", "a@b.test\n"]),
        ({"format": "uri"}, "https://a.test/x", ["https://a.test/\u2028", "https://a b.test"]),
        ({"pattern": "^[0-9]{1,12}$"}, "123", ["123\n", "1234567890123"]),
    ],
)
def test_patterns_and_formats_keep_their_meaning(spec: dict, good: str, bad: list[str]) -> None:  # type: ignore[type-arg]
    schema = _schema(**spec)
    assert validate(schema, {"key": good}) == {"key": good}
    for value in bad:
        with pytest.raises(InvalidFields):
            validate(schema, {"key": value})


def test_uri_and_email_formats_refuse_control_characters() -> None:
    """The engine before took ``\\x00`` as not-a-space; such a value cannot go in a URL."""
    for spec, value in [
        ({"format": "uri"}, "https://a.test/\x00"),
        ({"format": "email"}, "a\x01@b.io"),
    ]:
        with pytest.raises(InvalidFields, match="must be a valid"):
            validate(_schema(**spec), {"key": value})


PORTAL_CONFIG = App.model_validate(portal()).method("oauth2").config
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def test_omitted_choices_take_their_defaults() -> None:
    assert validate(PORTAL_CONFIG, {}, what="config") == {
        "region": "eu",
        "tenant": "common",
    }


def test_closed_choices_take_only_their_values() -> None:
    assert validate(PORTAL_CONFIG, {"region": "us"}, what="config")["region"] == "us"
    with pytest.raises(InvalidFields) as caught:
        validate(PORTAL_CONFIG, {"region": "mars"}, what="config")
    assert caught.value.details["errors"] == [
        {"field": "config.region", "message": "must be one of eu, us"}
    ]
    assert "config.region: must be one of eu, us" in caught.value.message


def test_open_choices_take_their_values_and_what_the_pattern_admits() -> None:
    assert validate(PORTAL_CONFIG, {"tenant": "consumers"}, what="config")["tenant"] == "consumers"
    assert validate(PORTAL_CONFIG, {"tenant": TENANT_ID}, what="config")["tenant"] == TENANT_ID
    with pytest.raises(InvalidFields) as caught:
        validate(PORTAL_CONFIG, {"tenant": "contoso"}, what="config")
    assert caught.value.details["errors"] == [
        {
            "field": "config.tenant",
            "message": "must be one of common, organizations, consumers, or look like a Tenant",
        }
    ]

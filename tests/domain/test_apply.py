from __future__ import annotations

import base64

import pytest

from gatekey.catalog.loader import app_from_data, load_catalog
from gatekey.catalog.schema import App
from gatekey.domain.apply import apply, merged_headers, template_values
from gatekey.domain.patterns import MAX_TEXT_BYTES
from gatekey.errors import InvalidFields
from tests.fakes.apps import notion_like
from tests.fakes.timing import within

CATALOG = load_catalog()


def _apply(key: str, values: dict[str, str], kind: str | None = None):  # type: ignore[no-untyped-def]
    app = CATALOG.get(key)
    return apply(app, app.method(kind), values)


def test_bearer() -> None:
    auth = _apply("sendgrid", {"api_key": "SG.x.y"})
    assert auth.headers == {"Authorization": "Bearer SG.x.y"}
    assert auth.base_url == "https://api.sendgrid.com"


def test_mailchimp_data_center_picks_the_host() -> None:
    auth = _apply("mailchimp", {"api_key": "0123456789abcdef0123456789abcdef-us6"})
    assert auth.base_url == "https://us6.api.mailchimp.com/3.0"
    assert auth.basic == ("anystring", "0123456789abcdef0123456789abcdef-us6")


def test_mailchimp_key_without_data_center_is_invalid() -> None:
    with pytest.raises(InvalidFields):
        _apply("mailchimp", {"api_key": "nodc"})


def test_zendesk_basic_with_token_suffix_and_subdomain() -> None:
    auth = _apply(
        "zendesk", {"email": "a@b.test", "api_token": "t0k", "subdomain": "acme"}, "custom"
    )
    assert auth.base_url == "https://acme.zendesk.com/api/v2"
    expected = "Basic " + base64.b64encode(b"a@b.test/token:t0k").decode()
    assert auth.request_headers()["Authorization"] == expected


def test_visma_two_headers() -> None:
    auth = _apply("visma-economic", {"app_secret_token": "s", "agreement_grant_token": "g"})
    assert auth.headers == {"X-AppSecretToken": "s", "X-AgreementGrantToken": "g"}


def test_optional_header_is_left_out_when_empty() -> None:
    assert "OpenAI-Organization" not in _apply("openai", {"api_key": "sk-1"}).headers
    with_org = _apply("openai", {"api_key": "sk-1", "organization": "org-9"})
    assert with_org.headers["OpenAI-Organization"] == "org-9"


def test_custom_http_header_name_from_config() -> None:
    auth = _apply(
        "custom-http",
        {"base_url": "https://api.acme.test/", "header_name": "X-Key", "header_value": "v"},
    )
    assert auth.headers == {"X-Key": "v"}
    assert auth.base_url == "https://api.acme.test"


def test_repr_hides_values() -> None:
    auth = _apply("sendgrid", {"api_key": "SG.CANARY.x"})
    assert "CANARY" not in repr(auth)


def _probe_app() -> App:
    return app_from_data(
        {
            "key": "probe",
            "name": "Probe",
            "docs_url": "https://docs.probe.test",
            "base_url": "https://{dc}.probe.test",
            "auth": [
                {
                    "kind": "api_key",
                    "fields": {"properties": {"api_key": {"title": "Key", "secret": True}}},
                    "derive": {"dc": {"source": "api_key", "pattern": r"^(a+)+(?P<value>x)$"}},
                    "apply": [{"type": "bearer", "value": "{api_key}"}],
                }
            ],
        },
        "test",
    )


def test_the_probes_derive_pattern_answers_at_once_with_the_right_answer() -> None:
    """On ``re`` 29 ``a``s and a ``!`` took 15 s with the GIL held; 10,000 never finished."""
    app = _probe_app()
    outcome: list[object] = []

    def work() -> None:
        for value in ("a" * 29 + "!", "a" * 9_999 + "!"):
            try:
                apply(app, app.method(), {"api_key": value})
            except InvalidFields as exc:
                outcome.append(exc.details["errors"])
        outcome.append(apply(app, app.method(), {"api_key": "a" * 9_999 + "x"}).base_url)

    within(30, work)
    no_dc = [{"field": "fields.api_key", "message": "no dc in it"}]
    assert outcome == [no_dc, no_dc, "https://x.probe.test"]


def test_a_derive_source_too_long_to_match_is_invalid() -> None:
    app = _probe_app()
    with pytest.raises(InvalidFields) as caught:
        apply(app, app.method(), {"api_key": "a" * (MAX_TEXT_BYTES + 1)})
    assert caught.value.details["errors"][0]["field"] == "fields.api_key"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"header_name": "X-Key", "header_value": "v\r\nX-Evil: 1"}, "fields.header_value"),
        ({"header_name": "X-Key\r\nX-Evil", "header_value": "v"}, "config.header_name"),
        ({"header_name": "X-Key", "header_value": "clé"}, "fields.header_value"),
    ],
)
def test_a_value_a_header_cannot_carry_is_refused_naming_its_field(
    values: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidFields) as caught:
        _apply("custom-http", {"base_url": "https://api.acme.test", **values})
    assert [e["field"] for e in caught.value.details["errors"]] == [field]
    assert "X-Evil" not in caught.value.message and "clé" not in caught.value.message


def test_a_bearer_token_a_header_cannot_carry_is_refused() -> None:
    with pytest.raises(InvalidFields, match=r"fields\.api_key"):
        _apply("sendgrid", {"api_key": "SG.x\ny"})


def test_overridable_headers_are_named_and_yield_to_the_callers_only() -> None:
    app = app_from_data(notion_like(), "test")
    auth = apply(app, app.method(), {"api_key": "ntn_1"})
    assert auth.overridable == {"Notion-Version"}
    caller = {"notion-version": "2026-03-11", "x-workspace": "evil", "X-Trace": "t"}
    sent = merged_headers(caller, auth.request_headers(), auth.overridable)
    assert sent == {
        "notion-version": "2026-03-11",
        "X-Trace": "t",
        "Authorization": "Bearer ntn_1",
        "X-Workspace": "acme",
    }
    assert merged_headers({}, auth.headers, auth.overridable)["Notion-Version"] == "2022-06-28"


def test_a_header_name_filled_in_as_authorization_is_never_overridable() -> None:
    definition = notion_like()
    definition["auth"][0]["config"] = {"properties": {"name": {"title": "Header"}}}
    definition["auth"][0]["apply"][1] = {
        "type": "header",
        "name": "{name}",
        "value": "v",
        "overridable": True,
    }
    app = app_from_data(definition, "test")
    auth = apply(app, app.method(), {"api_key": "k", "name": "authorization"})
    assert auth.overridable == frozenset()


def test_a_connection_stored_before_its_app_gained_a_setting_takes_the_default() -> None:
    """SendGrid gained an EU region: a connection saved without one stays on the global host."""
    auth = _apply("sendgrid", {"api_key": "SG.x.y"})
    assert auth.base_url == "https://api.sendgrid.com"
    outlook = CATALOG.get("microsoft-outlook").method()
    assert template_values(outlook, {"access_token": "t"})["tenant"] == "common"

from __future__ import annotations

import base64

import pytest

from gatekey.catalog.loader import load_catalog
from gatekey.domain.apply import apply
from gatekey.errors import InvalidFields

CATALOG = load_catalog()


def _apply(key: str, values: dict[str, str]):  # type: ignore[no-untyped-def]
    app = CATALOG.get(key)
    return apply(app, app.method(), values)


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
    auth = _apply("zendesk", {"email": "a@b.test", "api_token": "t0k", "subdomain": "acme"})
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

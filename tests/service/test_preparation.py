"""What a person must prepare per auth method (service/preparation.py)."""

from __future__ import annotations

from datetime import date

from gatekey.catalog.schema import App, public_view
from gatekey.service.preparation import prepare, with_preparations
from tests.fakes.apps import acme, portal

CALLBACK = "https://gatekey.example.com/oauth/callback"
PORTAL = App.model_validate(portal())


def test_an_oauth2_method_names_its_setup_redirect_uri_and_scopes() -> None:
    ready = prepare(PORTAL.method("oauth2"), CALLBACK)
    assert str(ready.setup_url) == "https://portal.test/developers/apps"
    assert ready.steps == ["Open Developer apps", "Create an OAuth app"]
    assert ready.redirect_uri == CALLBACK
    assert ready.scopes == ["tickets:read", "users:read"]
    assert ready.deprecated is None


def test_a_deprecated_method_says_when_and_what_to_use_instead() -> None:
    ready = prepare(PORTAL.method("api_key"), CALLBACK)
    assert ready.redirect_uri is None and ready.scopes == []
    assert ready.deprecated is not None
    assert ready.deprecated.sunset == date(2027, 4, 30)
    assert ready.deprecated.use_instead == "oauth2"


def test_a_method_with_no_setup_has_nothing_to_prepare() -> None:
    app = App.model_validate(acme())
    assert prepare(app.method(), CALLBACK).model_dump(exclude_defaults=True) == {}


def test_the_document_gets_a_prepare_block_per_method() -> None:
    document = with_preparations(public_view(PORTAL), PORTAL, CALLBACK)
    oauth, key = document["auth"]
    assert oauth["prepare"]["redirect_uri"] == CALLBACK
    assert key["prepare"]["deprecated"]["sunset"] == "2027-04-30"
    assert "prepare" not in public_view(PORTAL)["auth"][0], "the definition itself is unchanged"

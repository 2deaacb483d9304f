"""The test request (``probe.py``): what the status says, and what the body says beyond it."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx2
import pytest

from gatekey.catalog.schema import App
from gatekey.domain.apply import apply
from gatekey.errors import CredentialsRejected, ProviderUnavailable
from gatekey.probe import Prober
from tests.fakes.slack import FIRST_TOKEN, SLACK_APP, FakeSlack

APP = App.model_validate(SLACK_APP)
METHOD = APP.method()


def _check(handler: Callable[[httpx2.Request], httpx2.Response]) -> str | None:
    values = {"access_token": FIRST_TOKEN}
    with httpx2.Client(transport=httpx2.MockTransport(handler)) as http:
        return Prober(http).check(APP, METHOD, apply(APP, METHOD, values), values, [FIRST_TOKEN])


def test_a_body_that_says_ok_passes_and_names_the_account() -> None:
    assert _check(FakeSlack().handle) == "Acme"


def test_a_200_whose_body_says_not_ok_is_a_rejection_in_the_providers_words() -> None:
    slack = FakeSlack(live=set())
    with pytest.raises(CredentialsRejected) as caught:
        _check(slack.handle)
    assert caught.value.message == "Slack rejected the credentials: invalid_auth"
    assert caught.value.details["provider_status"] == 200


def test_a_body_that_says_expired_is_a_rejection_whatever_its_status() -> None:
    slack = FakeSlack()
    slack.expire(FIRST_TOKEN)
    with pytest.raises(CredentialsRejected) as caught:
        _check(slack.handle)
    assert caught.value.message == (
        "Slack rejected the credentials (the access token expired): token_expired"
    )


def test_what_the_provider_echoes_of_the_token_is_masked() -> None:
    def echo(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"ok": False, "error": f"bad token {FIRST_TOKEN}"})

    with pytest.raises(CredentialsRejected) as caught:
        _check(echo)
    assert caught.value.message.startswith("Slack rejected the credentials: bad token ")
    assert "CANARY" not in caught.value.message


def test_a_200_that_is_not_json_where_a_body_must_say_ok_is_not_a_verdict() -> None:
    def portal(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, text="<html>Sign in to the Wi-Fi</html>")

    with pytest.raises(ProviderUnavailable, match="not JSON"):
        _check(portal)


def test_without_body_rules_the_status_alone_decides() -> None:
    plain = App.model_validate({**SLACK_APP, "auth": [{**SLACK_APP["auth"][0], "responses": {}}]})
    method = plain.method()

    def not_ok(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"ok": False, "error": "invalid_auth", "team": "Acme"})

    values = {"access_token": FIRST_TOKEN}
    with httpx2.Client(transport=httpx2.MockTransport(not_ok)) as http:
        found = Prober(http).check(plain, method, apply(plain, method, values), values, [])
    assert found == "Acme"


def test_a_plain_text_refusal_is_quoted_and_masked_but_an_html_page_is_not() -> None:
    said = httpx2.Response(
        401, text=f"invalid token {FIRST_TOKEN}\nmore", headers={"content-type": "text/plain"}
    )
    with pytest.raises(CredentialsRejected) as caught:
        _check(lambda request: said)
    assert caught.value.message.startswith(
        "Slack rejected the credentials (HTTP 401): invalid token"
    )
    assert FIRST_TOKEN not in caught.value.message
    page = httpx2.Response(401, text="<html>denied</html>", headers={"content-type": "text/html"})
    with pytest.raises(CredentialsRejected) as caught:
        _check(lambda request: page)
    assert caught.value.message.endswith("(HTTP 401)")


def test_a_graphql_test_request_posts_its_query_as_json() -> None:
    definition = dict(SLACK_APP)
    method = dict(definition["auth"][0])
    method["responses"] = {}
    method["test_request"] = {
        "method": "POST",
        "path": "/graphql",
        "json_body": {"query": "{ viewer { name } }"},
        "account_label": ["data.viewer.name"],
    }
    definition["auth"] = [method]
    app = App.model_validate(definition)
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json={"data": {"viewer": {"name": "Ada"}}})

    values = {"access_token": FIRST_TOKEN}
    with httpx2.Client(transport=httpx2.MockTransport(answer)) as http:
        label = Prober(http).check(
            app, app.method(), apply(app, app.method(), values), values, [FIRST_TOKEN]
        )
    assert label == "Ada"
    [request] = seen
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"query": "{ viewer { name } }"}

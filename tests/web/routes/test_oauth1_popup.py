"""OAuth 1.0a consent on the Connections page, in a real browser: the same popup as OAuth2 goes
to the provider's authorization page (oauthlib's endpoints, ``tests.fakes.oauth1_provider``),
comes back to Gatekey's callback with the verifier, and closes itself; the card is Active and
named after the account, and no secret is on the page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.fakes.browser import Served, new_connection
from tests.fakes.oauth1_provider import Keys, oauth1_server, three_legged_app


@pytest.fixture
def provider(served: Served) -> Iterator[tuple[Keys, str]]:
    keys = Keys(callback=served.runtime.service.authorizations.callback_url)
    with oauth1_server(keys) as base_url:
        service = served.runtime.service
        service.apps.add(served.actor, three_legged_app("o1-page", "OAuth1 Board", base_url))
        service.oauth_clients.register(
            served.actor,
            app="o1-page",
            client_id=keys.consumer_key,
            client_secret=keys.consumer_secret,
        )
        yield keys, base_url


def test_oauth1_consent_in_the_popup_makes_an_active_card(
    page: Page, served: Served, provider: tuple[Keys, str]
) -> None:
    keys, _ = provider
    page.reload()
    new_connection(page, "o1-page", "Board - Ada")
    with page.expect_popup() as opened:
        page.get_by_role("button", name="Connect OAuth1 Board").first.click()
    popup = opened.value
    popup.wait_for_event("close", timeout=15_000)  # the provider approves at once
    card = page.locator(".conn", has_text="Board - Ada")
    expect(card).to_contain_text("Active")
    expect(card.locator(".account")).to_have_text("ada_lovelace")
    assert len(keys.granted) == 1
    expect(card.get_by_role("button", name="Update credentials")).to_have_count(0)

    with page.expect_popup() as again:  # Reconnect from the card: the same popup, the same ID
        card.get_by_role("button", name="Reconnect").click()
    again.value.wait_for_event("close", timeout=15_000)
    expect(card).to_contain_text("Active")
    assert len(keys.granted) == 2
    made = served.runtime.service.connections.list(served.actor).items
    assert [c.name for c in made] == ["Board - Ada"]
    content = page.content()
    for secret in (keys.consumer_secret, *keys.granted.values()):
        assert secret not in content

"""The sandbox's pages for a person: its root says what it offers, and its Docs link (the app's
``docs_url``) leads there, not to a sign-in page without a client."""

from __future__ import annotations

import httpx2

from tests.fakes.sandbox import Sandbox


def test_the_root_says_what_the_sandbox_does_and_its_state(sandbox: Sandbox) -> None:
    sandbox.control("ttl", seconds=90)
    try:
        with httpx2.Client(trust_env=False) as http:
            page = http.get(sandbox.url)
            slashed = http.get(sandbox.url + "/")
    finally:
        sandbox.control("ttl", seconds=3600)
    assert page.status_code == 200 and slashed.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    text = page.text
    assert 'Access tokens live <strong id="ttl">90 s</strong>' in text
    assert f"POST {sandbox.url}/control/revoke" in text
    assert "refresh tokens rotate" in text.lower()
    assert "registered" in text and "grant(s)" in text


def test_the_apps_docs_link_is_the_root(sandbox: Sandbox) -> None:
    assert str(sandbox.app.docs_url).rstrip("/") == sandbox.url


def test_a_sign_in_page_opened_by_hand_points_to_the_root(sandbox: Sandbox) -> None:
    with httpx2.Client(trust_env=False) as http:
        page = http.get(sandbox.url + "/authorize")
    assert page.status_code == 400
    assert "unknown client_id" in page.text
    assert f'href="{sandbox.url}"' in page.text


def test_the_consent_page_lets_a_person_sign_in_as_any_account(sandbox: Sandbox) -> None:
    url = (
        f"{sandbox.url}/authorize?response_type=code&client_id=gatekey-test"
        "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8040%2Foauth%2Fcallback&state=s"
    )
    with httpx2.Client(trust_env=False) as http:
        page = http.get(url)
    assert page.status_code == 200
    assert 'name="user" type="email"' in page.text
    assert "another address signs in as another account" in page.text

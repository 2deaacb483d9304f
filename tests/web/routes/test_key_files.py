"""Key files on the New connection form, in a real browser: a field holding a JSON key or a
PEM is a masked box the person pastes into or fills from a file (the page reads the file; no
file is uploaded), for a project's own app that signs its tokens (``signed_jwt``)."""

from __future__ import annotations

import json
from pathlib import Path

import jwt as pyjwt
from playwright.sync_api import Page, expect

from tests.fakes import pki
from tests.fakes.apps import KEY_ID, SIGNED_JWT_APP, SIGNED_JWT_ISSUER
from tests.fakes.browser import Served, new_connection


def test_a_key_file_is_read_into_a_masked_box_and_signs_the_token(
    page: Page, served: Served, tmp_path: Path
) -> None:
    service = served.runtime.service
    service.apps.add(served.actor, SIGNED_JWT_APP)
    key = pki.ec_pem("secp256r1", "key-file")
    path = tmp_path / "AuthKey.json"
    path.write_text(json.dumps({"private_key": key}))
    page.reload()
    new_connection(page, "store-reports", "Store reports - Production")
    form = page.locator("#new-connection")
    box = form.get_by_role("textbox", name="Key file", exact=True)
    expect(box).to_have_class("masked")
    form.locator("input[type=file]").set_input_files(str(path))
    expect(box).to_have_value(path.read_text())
    form.get_by_label("Key ID").fill(KEY_ID)
    form.get_by_label("Issuer ID").fill(SIGNED_JWT_ISSUER)
    page.get_by_role("button", name="Save and test").click()
    card = page.locator(".conn", has_text="Store reports - Production")
    expect(card).to_contain_text("Active")
    expect(card.locator(".account")).to_have_text(f"key {KEY_ID}")
    assert "BEGIN PRIVATE KEY" not in page.content()

    made = service.connections.list(served.actor).items[0]
    token = service.credentials.resolve(served.actor, made.id).fields.get("access_token")
    assert token is not None
    assert pyjwt.get_unverified_header(token)["kid"] == KEY_ID
    claims = pyjwt.decode(
        token, pki.public_pem(key), algorithms=["ES256"], audience="appstoreconnect-v1"
    )
    assert claims["iss"] == SIGNED_JWT_ISSUER and claims["exp"] - claims["iat"] == 1200


def test_a_file_that_is_not_the_key_file_is_refused_by_field(page: Page, served: Served) -> None:
    served.runtime.service.apps.add(served.actor, SIGNED_JWT_APP)
    page.reload()
    new_connection(page, "store-reports", "Store reports")
    form = page.locator("#new-connection")
    form.get_by_role("textbox", name="Key file", exact=True).fill('{"type": "not it"}')
    form.get_by_label("Key ID").fill(KEY_ID)
    form.get_by_label("Issuer ID").fill(SIGNED_JWT_ISSUER)
    page.get_by_role("button", name="Save and test").click()
    expect(form.locator(".field-error:visible")).to_contain_text(["private_key"])
    assert served.runtime.service.connections.list(served.actor).items == []

"""The masking rules: every spelling of a secret is hidden, ordinary text is left alone."""

from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus

import pytest

from gatekey.domain.masking import MASK, Masker, forms, secret_values

SECRET = "sk_live_CANARY/masking+Value=01"
USER = "AC-user-0001"


def _b64(text: str, urlsafe: bool = False, pad: bool = True) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    out = encode(text.encode()).decode()
    return out if pad else out.rstrip("=")


SPELLINGS = {
    "as is": SECRET,
    "reversed": SECRET[::-1],
    "upper": SECRET.upper(),
    "lower": SECRET.lower(),
    "mixed case": SECRET.swapcase(),
    "hex": SECRET.encode().hex(),
    "HEX": SECRET.encode().hex().upper(),
    "base64": _b64(SECRET),
    "base64 unpadded": _b64(SECRET, pad=False),
    "base64url": _b64(SECRET, urlsafe=True),
    "base64url unpadded": _b64(SECRET, urlsafe=True, pad=False),
    "quote": quote(SECRET, safe=""),
    "quote lower-case escapes": quote(SECRET, safe="").lower(),
    "quote_plus": quote_plus(SECRET),
    "quoted base64": quote(_b64(SECRET), safe=""),
    "json escaped": SECRET.replace("/", "\\/"),
    "basic pair": "Basic " + _b64(f"{USER}:{SECRET}"),
    "basic pair, form-encoded halves": _b64(f"{quote(USER, safe='')}:{quote(SECRET, safe='')}"),
    "pair of an unknown user": _b64(f"someone-else:{SECRET}"),
    "inside a larger blob": _b64('{"note": "x", "key": "' + SECRET + '"}', pad=False),
    "hex inside a larger blob": ("token=" + SECRET + ";").encode().hex(),
}


@pytest.mark.parametrize("spelling", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_every_spelling_of_a_secret_is_masked(spelling: str) -> None:
    masker = Masker([SECRET], pairs=[(USER, SECRET)])
    said = f"the provider said: {spelling} (try again)"

    masked = masker.text(said)

    assert masked.startswith("the provider said: ") and masked.endswith(" (try again)")
    assert MASK in masked
    for other in SPELLINGS.values():
        assert other not in masked
    assert SECRET.lower() not in masked.lower()


def test_the_longest_form_wins_and_ordinary_text_stays() -> None:
    pair = f"{USER}:{SECRET}"
    masker = Masker([SECRET, USER[:6]], pairs=[(USER, SECRET)])
    assert masker.text(f"x {pair} y") == f"x {MASK} y"
    text = "Unauthorized: the key for account 'Acme Corp' is invalid; see https://x.test/docs"
    assert masker.text(text) == text
    assert masker.text("authorization 1234567890abcdef QUJDREVGR0g=") == (
        "authorization 1234567890abcdef QUJDREVGR0g="
    )


def test_short_values_are_not_masked_and_no_secret_means_no_change() -> None:
    assert Masker(["abc", ""]).text("abc abc") == "abc abc"
    assert not Masker([])
    assert Masker([]).data({"a": ["b"]}) == {"a": ["b"]}


def test_json_data_is_masked_in_keys_values_and_lists() -> None:
    masker = Masker([SECRET])
    value = {"echo": [SECRET.upper(), {SECRET: _b64(SECRET)}], "n": 3, "ok": True}
    assert masker.data(value) == {"echo": [MASK, {MASK: MASK}], "n": 3, "ok": True}


def test_repr_and_forms_hold_no_secret_in_the_masker() -> None:
    masker = Masker([SECRET], pairs=[(USER, SECRET)])
    assert SECRET not in repr(masker) and "forms" in repr(masker)
    assert {SECRET, SECRET[::-1], _b64(SECRET), quote_plus(SECRET)} <= forms(SECRET)


def test_secret_values_of_payloads() -> None:
    fields = {"api_key": "k" * 10, "region": "eu-west-1"}
    assert secret_values(fields, names=["api_key"]) == ["k" * 10]
    token_set = {
        "access_token": "a" * 10,
        "refresh_token": "r" * 10,
        "token_type": "Bearer",
        "scope": "read write",
        "workspace_name": "Acme",
        "authed_user": {"id": "U1", "access_token": "u" * 10},
        "team": {"name": "Acme team"},
    }
    assert sorted(secret_values(token_set)) == ["a" * 10, "r" * 10, "u" * 10]

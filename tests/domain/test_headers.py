"""Header names are RFC 9110 tokens, values visible ASCII; templates are checked around holes."""

from __future__ import annotations

import pytest

from gatekey.domain import headers


@pytest.mark.parametrize("name", ["Authorization", "X-Api-Key", "x_key.v2", "!#$%&'*+-.^_`|~"])
def test_tokens_are_names(name: str) -> None:
    assert headers.is_name(name)
    assert headers.check_name(name) == name


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("X-Key\r\nX-Evil", "a carriage return (CR)"),
        ("X-Key\nX", "a line feed (LF)"),
        ("X Key", "a space"),
        ("X:Key", "':'"),
        ("X-Clé", "the non-ASCII character U+00E9"),
        ("X\x00", "the control character U+0000"),
    ],
)
def test_names_that_are_not_tokens_are_refused(name: str, found: str) -> None:
    assert not headers.is_name(name)
    with pytest.raises(ValueError, match="a header name is a token") as caught:
        headers.check_name(name)
    assert str(caught.value).endswith(f"found {found}")
    assert "\r" not in str(caught.value) and "\n" not in str(caught.value)


def test_values_are_visible_ascii_spaces_and_tabs() -> None:
    assert headers.check_value("Bearer abc\tdef ~") == "Bearer abc\tdef ~"
    for value, found in [
        ("abc\r\nX-Evil: 1", "a carriage return (CR)"),
        ("abc\ndef", "a line feed (LF)"),
        ("abc\x7f", "the control character U+007F"),
        ("abc\x85", "the control character U+0085"),
        ("naïve", "the non-ASCII character U+00EF"),
    ]:
        assert not headers.is_value(value)
        with pytest.raises(ValueError, match="a header value holds visible ASCII") as caught:
            headers.check_value(value)
        assert str(caught.value).endswith(f"found {found}")


def test_templates_are_checked_around_their_placeholders() -> None:
    assert headers.check_name_template("{header_name}") == "{header_name}"
    assert headers.check_name_template("X-{suffix}-Key") == "X-{suffix}-Key"
    assert headers.check_value_template("Token token={api_key}") == "Token token={api_key}"
    with pytest.raises(ValueError, match="a space"):
        headers.check_name_template("X {suffix}")
    with pytest.raises(ValueError, match=r"found '\{'"):
        headers.check_name_template("X-{not a placeholder}")
    with pytest.raises(ValueError, match="may not be empty"):
        headers.check_name_template("")
    with pytest.raises(ValueError, match=r"line feed"):
        headers.check_value_template("{api_key}\nX-Evil: 1")


def test_urls_and_parameters_refuse_control_characters() -> None:
    assert headers.check_no_control("https://{host}/api v2") == "https://{host}/api v2"
    with pytest.raises(ValueError, match="carriage return"):
        headers.check_no_control("https://api.test/\r\nHost: evil")
    with pytest.raises(ValueError, match=r"U\+0000"):
        headers.check_no_control("offline\x00")

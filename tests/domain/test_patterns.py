"""Tenant patterns run on RE2: linear time, no backtracking features, bounded sizes."""

from __future__ import annotations

import pytest

from gatekey.domain.patterns import (
    MAX_PATTERN_CHARS,
    MAX_PROGRAM_SIZE,
    MAX_TEXT_BYTES,
    PatternRefused,
    TextTooLong,
    compile_pattern,
)
from tests.fakes.timing import within

PROBE = r"^(a+)+(?P<value>x)$"


def test_the_probes_pattern_answers_at_once_with_the_right_answer() -> None:
    pattern = compile_pattern(PROBE)

    assert within(30, lambda: pattern.find("a" * 29 + "!", "value")) is None
    assert within(30, lambda: pattern.find("a" * 9_999 + "!", "value")) is None
    assert within(30, lambda: pattern.find("a" * 9_999 + "x", "value")) == "x"
    assert within(30, lambda: pattern.matches("a" * 9_999 + "x")) is True


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"^(a)\1$", r"invalid escape sequence: \1"),
        (r"(?P<value>x)(?=y)", "invalid perl operator: (?="),
        (r"(?<!y)(?P<value>x)", "invalid perl operator: (?<!"),
        (r"(?P<value>x)\Z", r"invalid escape sequence: \Z"),
        (r"(?P<value>x", "missing ): (?P<value>x"),
    ],
)
def test_what_needs_backtracking_is_refused_not_run_on_re(pattern: str, reason: str) -> None:
    with pytest.raises(PatternRefused) as caught:
        compile_pattern(pattern)
    assert str(caught.value) == f"not a pattern RE2 can run: {reason}"


def test_it_is_re2_that_matches() -> None:
    # Python's re lets $ match before a final newline; RE2 only at the very end.
    assert not compile_pattern(r"^[0-9]+$").matches("123\n")
    assert compile_pattern(r"^[0-9]+$").matches("123")
    assert compile_pattern(r"-(?P<value>[a-z]+[0-9]+)$").find("k-us6", "value") == "us6"


def test_long_and_complex_patterns_are_refused() -> None:
    with pytest.raises(PatternRefused, match=f"at most {MAX_PATTERN_CHARS} characters"):
        compile_pattern("a" * (MAX_PATTERN_CHARS + 1))
    with pytest.raises(PatternRefused, match=f"at most {MAX_PROGRAM_SIZE}"):
        compile_pattern(r"[a-z]{1000}[0-9]{1000}")
    assert compile_pattern(r"^\pL+$").matches("Zoë")  # Unicode classes fit


def test_text_over_the_bound_is_not_matched() -> None:
    pattern = compile_pattern(r"^a+$")
    assert pattern.matches("a" * MAX_TEXT_BYTES)
    with pytest.raises(TextTooLong):
        pattern.matches("a" * (MAX_TEXT_BYTES + 1))
    with pytest.raises(TextTooLong):  # the bound is in UTF-8 bytes, not characters
        pattern.matches("é" * (MAX_TEXT_BYTES // 2 + 1))


def test_text_that_is_not_unicode_matches_nothing() -> None:
    assert not compile_pattern(r".*").matches("a\ud800b")
    assert compile_pattern(r"(?P<value>.*)").find("a\ud800b", "value") is None


def test_groups_are_reported_by_name() -> None:
    assert compile_pattern(PROBE).group_names == {"value"}
    assert compile_pattern(r"(?P<value>x)?y").find("y", "value") is None

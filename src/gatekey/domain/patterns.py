"""Regular expressions that tenants write (a field's ``pattern``, a ``derive``), run on RE2.

Python's ``re`` backtracks: ``^(a+)+x$`` against thirty ``a``s and a ``!`` runs for seconds,
doubling with each character, and holds the GIL throughout, so one request froze the process.
RE2 (``google-re2``) matches in time linear in the text and releases the GIL while it matches.
It refuses what needs backtracking (backreferences, lookaround); such a pattern is refused where
it is defined, and nothing here falls back to ``re``.

Linear is not free: one match costs about the compiled program's size times the text's length,
so both are bounded. A pattern holds at most ``MAX_PATTERN_CHARS`` characters and compiles to at
most ``MAX_PROGRAM_SIZE`` RE2 instructions (refused at definition; ``\\pL`` alone is ~1,200), RE2
gets ``MAX_MEMORY`` bytes per pattern, and a text matched against a pattern is at most
``MAX_TEXT_BYTES`` of UTF-8 (callers refuse longer values). The worst pattern found within these
bounds took 0.7 s on the longest text, with the GIL free the whole time; a 10,000-character value
against the probe's ``^(a+)+(?P<value>x)$`` takes well under a millisecond.

What a pattern author may notice against ``re``: ``$`` matches only at the very end (never
before a final newline), ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII-only, ``\\Z`` is
written ``\\z``. Text that is not valid Unicode (a lone surrogate) matches nothing.
"""

from __future__ import annotations

from functools import lru_cache

import re2

MAX_PATTERN_CHARS = 1000
MAX_PROGRAM_SIZE = 2000
MAX_MEMORY = 256 * 1024
MAX_TEXT_BYTES = 16 * 1024


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = MAX_MEMORY
    options.log_errors = False  # RE2 would print refusals to stderr, outside our logging
    return options


_OPTIONS = _options()


class PatternRefused(ValueError):
    """RE2 cannot run this pattern, or it is over a bound; the message says which."""


class TextTooLong(ValueError):
    """A text over ``MAX_TEXT_BYTES`` was about to be matched."""


class Pattern:
    """A compiled tenant pattern; ``search`` semantics, as JSON-schema's ``pattern``."""

    __slots__ = ("_regexp", "source")

    def __init__(self, source: str) -> None:
        if len(source) > MAX_PATTERN_CHARS:
            raise PatternRefused(f"a pattern may be at most {MAX_PATTERN_CHARS} characters")
        try:
            regexp = re2.compile(source, _OPTIONS)
        except re2.error as exc:
            raise PatternRefused(f"not a pattern RE2 can run: {_reason(exc)}") from None
        if regexp.programsize > MAX_PROGRAM_SIZE:
            raise PatternRefused(
                f"the pattern is too complex ({regexp.programsize} RE2 instructions, "
                f"at most {MAX_PROGRAM_SIZE}); use fewer or smaller repetitions and classes"
            )
        self.source = source
        self._regexp = regexp

    def __repr__(self) -> str:
        return f"Pattern({self.source!r})"

    @property
    def group_names(self) -> frozenset[str]:
        return frozenset(str(name) for name in self._regexp.groupindex)

    def matches(self, text: str) -> bool:
        """Tell whether the pattern matches anywhere in ``text``."""
        encoded = _encoded(text)
        return encoded is not None and self._regexp.search(encoded) is not None

    def find(self, text: str, group: str) -> str | None:
        """Return what ``group`` captured at the first match, or None (no match, no capture)."""
        encoded = _encoded(text)
        if encoded is None:
            return None
        match = self._regexp.search(encoded)
        if match is None:
            return None
        captured = match.group(group)
        return None if captured is None else str(captured.decode("utf-8"))


def _encoded(text: str) -> bytes | None:
    """Return the UTF-8 text RE2 reads; None when it is not valid Unicode."""
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    if len(encoded) > MAX_TEXT_BYTES:
        raise TextTooLong(f"text over {MAX_TEXT_BYTES} bytes is not matched against a pattern")
    return encoded


def _reason(exc: Exception) -> str:
    reason = exc.args[0] if exc.args else exc
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


@lru_cache(maxsize=256)
def compile_pattern(source: str) -> Pattern:
    """Return the compiled pattern; raise ``PatternRefused`` saying why RE2 will not run it.

    Cached: up to 256 patterns of at most ``MAX_MEMORY`` each stay compiled.
    """
    return Pattern(source)

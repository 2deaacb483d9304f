"""What an HTTP header may hold (RFC 9110 section 5): names are tokens, values visible ASCII.

A CR or LF in a header would start another header (header injection, request splitting); the
HTTP client refuses one when it sends, which surfaced as a misleading 502 long after the app was
defined, and it cannot encode non-ASCII at all. So app definitions are checked where they are
defined (the literal text of header templates, test-request headers, URL templates and extra
parameters), and values filled into header templates are checked when they are applied.

Names follow ``field-name = token`` (section 5.1); values follow ``field-value`` (section 5.5)
without ``obs-text``: visible ASCII, space and horizontal tab.
"""

from __future__ import annotations

import re

from gatekey.domain.templates import literals

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_NOT_TOKEN = re.compile(r"[^!#$%&'*+.^_`|~0-9A-Za-z-]")
_NOT_VALUE = re.compile(r"[^\t\x20-\x7e]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAME_CHARS = "letters, digits and !#$%&'*+-.^_`|~"


def is_name(text: str) -> bool:
    """Tell whether ``text`` is a header name (an RFC 9110 token)."""
    return _TOKEN.fullmatch(text) is not None


def is_value(text: str) -> bool:
    """Tell whether ``text`` can be sent as a header value."""
    return _NOT_VALUE.search(text) is None


def describe(char: str) -> str:
    """Name a character for an error message without printing it raw."""
    names = {"\r": "a carriage return (CR)", "\n": "a line feed (LF)", "\t": "a tab"}
    if char in names:
        return names[char]
    if _CONTROL.fullmatch(char):
        return f"the control character U+{ord(char):04X}"
    if char == " ":
        return "a space"
    if not char.isascii():
        return f"the non-ASCII character U+{ord(char):04X}"
    return repr(char)


def check_name(name: str) -> str:
    """Return a literal header name; raise ``ValueError`` naming the character at fault."""
    if not name:
        raise ValueError("a header name may not be empty")
    bad = _NOT_TOKEN.search(name)
    if bad:
        raise ValueError(f"a header name is a token ({_NAME_CHARS}); found {describe(bad[0])}")
    return name


def check_value(value: str) -> str:
    """Return a literal header value; raise ``ValueError`` naming the character at fault."""
    bad = _NOT_VALUE.search(value)
    if bad:
        raise ValueError(
            f"a header value holds visible ASCII, spaces and tabs; found {describe(bad[0])}"
        )
    return value


def check_name_template(template: str) -> str:
    """Check the text around a header-name template's ``{placeholders}``; return the template."""
    if not template:
        raise ValueError("a header name may not be empty")
    for part in literals(template):
        if part:
            check_name(part)
    return template


def check_value_template(template: str) -> str:
    """Check the text around a header-value template's ``{placeholders}``; return it."""
    for part in literals(template):
        check_value(part)
    return template


def check_no_control(text: str) -> str:
    """Refuse CR, LF and other control characters (URLs, parameter names and values)."""
    bad = _CONTROL.search(text)
    if bad:
        raise ValueError(f"control characters are not allowed; found {describe(bad[0])}")
    return text

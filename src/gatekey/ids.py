"""Public identifiers: a prefix plus a sortable random id (48-bit time, 80 random bits).

``conn_01JD3W6ZK2Q8V5N0C7H9X4T1RB``: the body is Crockford base32 as in ULID, so ids sort by
creation time and are safe in URLs.
"""

from __future__ import annotations

import re
import secrets
import time

from gatekey.errors import InvalidId

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BODY = r"[0-9A-HJKMNP-TV-Z]{26}"
PREFIXES = ("conn", "proj", "key", "oac", "oas", "flow", "run", "whk", "whd", "evt")
_NOUNS = {
    "conn": "connection",
    "proj": "project",
    "key": "API key",
    "oac": "OAuth client",
    "oas": "authorization session",
    "flow": "flow",
    "run": "run",
    "whk": "webhook",
    "whd": "webhook delivery",
    "evt": "event",
}


def new_id(prefix: str, *, now: float | None = None) -> str:
    """Return ``<prefix>_<26 chars>``, sortable by creation time."""
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


_PATTERNS = {prefix: re.compile(f"{prefix}_{_BODY}") for prefix in PREFIXES}


def is_valid(prefix: str, value: str) -> bool:
    """Tell whether ``value`` is a well-formed id with that prefix."""
    return _PATTERNS[prefix].fullmatch(value) is not None


def check(prefix: str, value: object) -> str:
    """Return ``value`` if it is a well-formed id with that prefix, else raise ``InvalidId``.

    Checked before any lookup, so a malformed id answers ``invalid_id`` (400) on every
    resource, never ``not_found``; the message shows the expected shape, not the value.
    """
    if not isinstance(value, str) or not is_valid(prefix, value):
        raise InvalidId(f"{_NOUNS[prefix]} ids look like {prefix}_ followed by 26 characters")
    return value

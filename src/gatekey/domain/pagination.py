"""Cursors for paged lists: opaque to the caller, naming the last item of the page before."""

from __future__ import annotations

import base64
import binascii
import json

from gatekey import ids
from gatekey.errors import InvalidInput


def encode_cursor(after: str) -> str:
    """An opaque cursor for the page after the item ``after``."""
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, prefix: str = "conn") -> str:
    """The id a cursor of ``encode_cursor`` names; ``InvalidInput`` for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidInput("cursor is not one this API returned") from None
    if not isinstance(after, str) or not ids.is_valid(prefix, after):
        raise InvalidInput("cursor is not one this API returned")
    return after


def check_limit(limit: int, most: int) -> int:
    """A page size between 1 and ``most``; ``InvalidInput`` otherwise, before any query."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= most:
        raise InvalidInput(f"limit must be between 1 and {most}")
    return limit

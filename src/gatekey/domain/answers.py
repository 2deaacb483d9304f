"""What an app's answer means beyond its status, by the rules its connection hands out
(``models.Credentials``): an expired access token (one of ``expired_token_status``, or a body
passing ``expired_when``: Slack says ``token_expired`` on an HTTP 200) and a failure dressed
as a success (a 2xx whose body fails ``ok_when``: Slack's ``{"ok": false}``). Pure, no I/O.

Bodies are read only for a rule that needs them, and only when small JSON
(``bodies.small_json``): a large or binary answer is never parsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gatekey.domain.bodies import BodyRule, first_text, small_json


class Rules(Protocol):
    """How to read a connection's answers (``Credentials`` has them all)."""

    @property
    def expired_token_status(self) -> list[int]: ...
    @property
    def expired_when(self) -> BodyRule | None: ...
    @property
    def ok_when(self) -> BodyRule | None: ...
    @property
    def error_paths(self) -> list[str]: ...


def expired(
    rules: Rules, status: int, content_type: str, content: bytes, *, unless: Sequence[int] = ()
) -> bool:
    """Whether the answer says the access token expired: a status of
    ``expired_token_status`` (of ``unless`` when it names none), or a body passing
    ``expired_when``."""
    if status in (rules.expired_token_status or unless):
        return True
    rule = rules.expired_when
    return rule is not None and rule.holds(small_json(content_type, content))


def failed(rules: Rules, status: int, content_type: str, content: bytes) -> bool:
    """Whether a 2xx answer is a failure all the same: its body fails ``ok_when``."""
    rule = rules.ok_when
    if rule is None or not 200 <= status < 300:
        return False
    return not rule.holds(small_json(content_type, content))


def said(rules: Rules, status: int, content_type: str, content: bytes) -> str:
    """The answer in a few words: ``HTTP 200: invalid_auth`` (the provider's error text at
    the first of ``error_paths``, whole: mask it before showing it), or ``HTTP 401``."""
    words = first_text(small_json(content_type, content), rules.error_paths)
    return f"HTTP {status}: {words}" if words else f"HTTP {status}"

"""Reading JSON bodies: values by dotted path (``errors.0.message``), a small answer's body,
the provider's own error text, and ``BodyRule``, a test on one value. Pure, no I/O."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

Scalar = str | int | bool | None
MAX_READ = 64 * 1024
"""The largest answer whose body is read for a rule (bigger ones are passed on unread)."""


def dig(body: Any, path: str) -> Any:
    """Return the value at a dotted path (``errors.0.message``, ``0.tenantId``), or None."""
    node = body
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def first_text(body: Any, paths: Sequence[str]) -> str | None:
    """The first non-empty text at one of ``paths``, whole (mask it before cutting it short)."""
    for path in paths:
        value = dig(body, path)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def small_json(content_type: str, content: bytes) -> Any:
    """The JSON body of an answer that says it is JSON and is at most ``MAX_READ`` bytes;
    None for any other (a rule then never holds)."""
    if "json" not in content_type.lower() or len(content) > MAX_READ:
        return None
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        return None


class BodyRule(BaseModel):
    """A test on one value of a JSON body: the value at ``path`` (dotted: ``error``,
    ``errors.0.code``) is one of ``one_of``, of the same JSON type (``true`` is not ``1``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    one_of: list[Scalar]

    def holds(self, body: Any) -> bool:
        """Whether the body passes (a body that is not JSON, None here, never does)."""
        value = dig(body, self.path)
        return any(value == w and type(value) is type(w) for w in self.one_of)

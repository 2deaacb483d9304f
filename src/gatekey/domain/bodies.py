"""Reading values out of JSON bodies by dotted path (``errors.0.message``). Pure, no I/O."""

from __future__ import annotations

from typing import Any


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

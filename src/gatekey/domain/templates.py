"""Placeholder templates used by catalog entries: ``https://{subdomain}.zendesk.com/api/v2``.

Only ``{name}`` placeholders are recognised (no attribute access, no format specs), so a value
can never reach into Python objects the way ``str.format`` would allow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

_PLACEHOLDER = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)\}")


@lru_cache(maxsize=4096)
def placeholders(template: str) -> frozenset[str]:
    """Return the names a template refers to."""
    return frozenset(_PLACEHOLDER.findall(template))


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill every placeholder; raise ``KeyError`` naming the first missing one."""
    if "{" not in template:
        return template

    def _sub(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return _PLACEHOLDER.sub(_sub, template)


def literals(template: str) -> list[str]:
    """Return the text between a template's placeholders, in order (``["https://", ".test"]``)."""
    return _PLACEHOLDER.split(template)[::2]


def can_render(template: str, values: Mapping[str, str]) -> bool:
    """Tell whether every placeholder has a non-empty value."""
    return all(values.get(name) for name in placeholders(template))

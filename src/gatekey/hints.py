"""What to do next about an error, named once for every adapter to say its own way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

NEXT_STEPS = frozenset(
    {
        "replace_app",
        "start_authorization",
        "signin_link",
        "rotate_master_key",
        "skip_test",
        "force_delete",
    }
)
"""The actions a ``Hint`` may name. Each adapter says them its own way (the API as a request,
the CLI as a command, the pages as a button or a command for the operator); the service that
raises the error names none of them.

``skip_test``: save the same credentials again without asking the provider (``app``);
``force_delete``: delete the connection although flows use it (``id``)."""


@dataclass(frozen=True)
class Hint:
    """The next step out of an error: one of ``NEXT_STEPS`` and the values that fill it in."""

    action: str
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.action not in NEXT_STEPS:
            raise ValueError(f"no next step is called {self.action!r}")

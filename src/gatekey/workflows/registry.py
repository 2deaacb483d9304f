"""The python steps a flow may name: only those the operator installed and registered.

Two sources, read once when the runtime opens: the ``gatekey.steps`` entry-point group of the
installed distributions (``name = package.module:function``) and the ``GATEKEY_STEPS`` setting
(``name=package.module:function,...``; the setting wins on a name both define). A flow's python
step names a registered step by its name, or by the exact ``module:function`` it is registered
as (so flows written before registration existed keep working once the operator registers
their functions). Nothing here imports a step module: only the step's child process does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points

from gatekey.errors import InvalidInput

GROUP = "gatekey.steps"
NAME = re.compile(r"^[A-Za-z_][\w.:-]{0,199}$")
TARGET = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")


class StepRegistry:
    """Registered step names and the ``module:function`` each runs."""

    def __init__(self, entries: Mapping[str, str] | None = None) -> None:
        self._targets: dict[str, str] = {}
        for name, target in (entries or {}).items():
            if not NAME.match(name) or not TARGET.match(target):
                raise InvalidInput(
                    f"step {name!r}: a registered step is name=package.module:function"
                )
            self._targets[name] = target
        self._registered = set(self._targets.values())

    @classmethod
    def installed(cls, setting: str = "") -> StepRegistry:
        """The entry-point group ``gatekey.steps`` plus the ``GATEKEY_STEPS`` setting."""
        found = {ep.name: _strip_extras(ep.value) for ep in entry_points(group=GROUP)}
        return cls({**found, **parse_setting(setting)})

    def resolve(self, reference: str) -> str | None:
        """Return the ``module:function`` a flow's step reference runs, or None."""
        if reference in self._targets:
            return self._targets[reference]
        for candidate in (reference, _colon_form(reference)):
            if candidate in self._registered:
                return candidate
        return None

    def names(self) -> list[str]:
        return sorted(self._targets)

    def __contains__(self, reference: object) -> bool:
        return isinstance(reference, str) and self.resolve(reference) is not None

    def __repr__(self) -> str:
        return f"StepRegistry({self.names()!r})"


def parse_setting(setting: str) -> dict[str, str]:
    """Read ``name=package.module:function,...``; a bare target registers under itself."""
    entries: dict[str, str] = {}
    for item in _items(setting):
        name, sep, target = item.partition("=")
        name, target = (name.strip(), target.strip()) if sep else (item, item)
        if not NAME.match(name) or not TARGET.match(target):
            raise InvalidInput(f"GATEKEY_STEPS: {item!r} is not name=package.module:function")
        entries[name] = target
    return entries


def _items(setting: str) -> Iterable[str]:
    return (part.strip() for part in setting.split(",") if part.strip())


def _strip_extras(value: str) -> str:
    """``pkg.mod:fn [extra]`` (an entry point with extras) is ``pkg.mod:fn``."""
    return value.split("[", 1)[0].strip()


def _colon_form(reference: str) -> str:
    """``pkg.mod.fn`` (the older dotted form) is ``pkg.mod:fn``."""
    if ":" in reference or "." not in reference:
        return reference
    module, _, function = reference.rpartition(".")
    return f"{module}:{function}"

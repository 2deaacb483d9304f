"""The built-in catalog, parsed once per test session instead of once per runtime.

Parsing the 81 built-in YAML files is most of what opening a runtime costs (about 1 s on a
quiet machine, pure-Python YAML), and the files do not change while the suite runs. The first
call parses them for real, through the live loader; later calls hand out the same frozen
``App`` objects in a new list (``load_catalog`` extends the list it is given). Operator
directories and project apps are parsed every time, as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pytest

from gatekey.catalog import loader
from gatekey.catalog.schema import App

_parse = loader.builtin_apps


@cache
def _parsed() -> tuple[App, ...]:
    return tuple(_parse())


def builtin_apps() -> list[App]:
    """The built-in apps, parsed on the first call of the session."""
    return list(_parsed())


@contextmanager
def parsed_once() -> Iterator[None]:
    """Make ``load_catalog`` use the session's parse while the context is open."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loader, "builtin_apps", builtin_apps)
        yield

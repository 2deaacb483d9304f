"""What Gatekey takes as text and JSON: no NUL character, and only finite numbers.

PostgreSQL cannot hold U+0000 in ``text`` or ``jsonb``, nor ``NaN`` or ``Infinity`` in
``jsonb``; SQLite keeps both. Python's ``json`` reads ``NaN``, ``Infinity`` and ``-Infinity``
(and ``1e999`` as infinity) unless told otherwise. Left alone, the same input would be stored on
one database and answered with a server error on the other. So every adapter refuses it up
front, the same way: the API for every JSON body, query, path and form field
(``gatekey.api.inputs``), and the service for every argument of its public methods
(``checked_arguments``), so the embedded SDK and the CLI get the same ``invalid_input`` as
the HTTP API, naming the field and never the value, before anything is written.

``find_flaw`` walks a value (strings, numbers, and dicts, lists, tuples and sets of them; dict
keys too) without recursion, so deeply nested input cannot exhaust the stack.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FunctionType
from typing import Any, TypeVar

from gatekey.errors import InvalidInput

NUL = "\x00"
NUL_MESSAGE = "text may not contain the NUL character (U+0000)"
NUMBER_MESSAGE = "numbers must be finite (not NaN, Infinity or -Infinity)"
_MAX_KEY = 100

C = TypeVar("C", bound=type)


@dataclass(frozen=True, slots=True)
class Flaw:
    """Where an input breaks the rules above, and which rule."""

    field: str
    message: str

    def error(self) -> InvalidInput:
        return InvalidInput(
            f"invalid request: {self.field}: {self.message}",
            field=self.field,
            errors=[{"field": self.field, "message": self.message}],
        )


def _name(key: object) -> str:
    text = str(key).replace(NUL, "\\u0000")
    return text if len(text) <= _MAX_KEY else text[:_MAX_KEY] + "..."


def _join(where: str, key: object) -> str:
    return f"{where}.{_name(key)}" if where else _name(key)


_OTHER, _TEXT, _NUMBER, _SEQUENCE, _MAPPING = range(5)
_KINDS: dict[type, int] = {}


def _kind(cls: type) -> int:
    """What the walk does with instances of ``cls`` (worked out once per type)."""
    kind = _KINDS.get(cls)
    if kind is None:
        if issubclass(cls, str):
            kind = _TEXT
        elif issubclass(cls, float):
            kind = _NUMBER
        elif issubclass(cls, list | tuple | set | frozenset):
            kind = _SEQUENCE
        elif issubclass(cls, Mapping):
            kind = _MAPPING
        else:
            kind = _OTHER
        _KINDS[cls] = kind
    return kind


def find_flaw(value: object, field: str = "") -> Flaw | None:
    """Return the first string holding a NUL or number that is not finite in ``value``."""
    stack: list[tuple[Any, str]] = [(value, field)]
    while stack:
        item, where = stack.pop()
        kind = _kind(type(item))
        if kind == _TEXT:
            if NUL in item:
                return Flaw(where or "value", NUL_MESSAGE)
        elif kind == _NUMBER:
            if not math.isfinite(item):
                return Flaw(where or "value", NUMBER_MESSAGE)
        elif kind == _SEQUENCE:
            if item:
                stack.extend(reversed([(child, _join(where, n)) for n, child in enumerate(item)]))
        elif kind == _MAPPING:
            inner: list[tuple[Any, str]] = []
            for key, child in item.items():
                at = _join(where, key)
                key_kind = _kind(type(key))
                if (key_kind == _TEXT and NUL in key) or (
                    key_kind == _NUMBER and not math.isfinite(key)
                ):
                    return Flaw(at, NUL_MESSAGE if key_kind == _TEXT else NUMBER_MESSAGE)
                inner.append((child, at))
            stack.extend(reversed(inner))
    return None


def check(value: object, field: str) -> None:
    """Raise ``InvalidInput`` naming the field if ``value`` holds a NUL or a non-finite number."""
    flaw = find_flaw(value, field)
    if flaw is not None:
        raise flaw.error()


def _check_argument(value: object, name: str) -> None:
    cls = type(value)
    if cls is str:  # ids and names: most arguments, and on the hot path
        if NUL in value:  # type: ignore[operator]
            raise Flaw(name, NUL_MESSAGE).error()
    elif value is not None and _kind(cls) != _OTHER and value:
        check(value, name)


def _flawed(value: object) -> bool:
    """Whether ``value`` holds a flaw; cheap for what most calls pass (ids, actors, None)."""
    cls = type(value)
    if cls is str:
        return NUL in value  # type: ignore[operator]
    if value is None:
        return False
    kind = _KINDS.get(cls)
    if kind is None:
        kind = _kind(cls)
    return kind != _OTHER and bool(value) and find_flaw(value) is not None


def _checked(method: Callable[..., Any]) -> Callable[..., Any]:
    code = method.__code__
    positional = code.co_varnames[1 : code.co_argcount]  # after self

    @functools.wraps(method)
    def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        # The hot path (resolve_credentials before every step) pays for one cheap look per
        # argument, inline for what most calls pass (ids, actors, None); names are worked out
        # only to say which argument is at fault.
        for value in args:
            cls = type(value)
            if (
                (NUL in value if cls is str else value is not None)
                and _KINDS.get(cls) != _OTHER
                and _flawed(value)
            ):
                for name, named in zip(positional, args, strict=False):
                    _check_argument(named, name)
        for name, value in kwargs.items():
            cls = type(value)
            if (
                (NUL in value if cls is str else value is not None)
                and _KINDS.get(cls) != _OTHER
                and _flawed(value)
            ):
                _check_argument(value, name)
        return method(self, *args, **kwargs)

    checked.__gatekey_checked__ = True  # type: ignore[attr-defined]
    return checked


def checked_arguments(cls: C) -> C:
    """Make every public method of ``cls`` (inherited ones included) refuse flawed arguments.

    Applied to the service façade: whatever the adapter, a NUL or a NaN in an argument is an
    ``InvalidInput`` before the method runs, so it never reaches a database.
    """
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attribute = inspect.getattr_static(cls, name)
        if isinstance(attribute, FunctionType) and not hasattr(attribute, "__gatekey_checked__"):
            setattr(cls, name, _checked(attribute))
    return cls

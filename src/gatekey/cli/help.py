"""How ``--help`` names the values a command takes: with words (``--app KEY``, ``--limit N``,
``CONNECTION_ID``), not Python types (``<str>``, ``<list[str]>``), and flags with none.

Typer shows an option's ``metavar`` when it has one; ``Group``, the class of every ``gatekey``
command group, gives each parameter left without one a word before a command's help (or its
use) reads it: an argument its name in capitals, an option a word for its type.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer.core

if TYPE_CHECKING:  # the click Typer vendors, as typer.core's own signatures name it
    from typer._click import Command, Context, Parameter

WORDS: dict[Any, str] = {str: "TEXT", int: "N", float: "NUMBER", Path: "FILE"}
"""The word for a value of each type; a list takes its items' word (the option repeats)."""


class _Argument(typer.core.TyperArgument):
    """An argument whose help shows its name (a word already) and no type beside it."""

    def display_type_rich(self, ctx: Context) -> str | None:
        return None


def worded(params: Sequence[Parameter]) -> None:
    """Give each parameter without a ``metavar`` its word (flags: none)."""
    for param in params:
        if isinstance(param, typer.core.TyperArgument):
            param.metavar = param.metavar or (param.name or "value").upper()
            param.__class__ = _Argument  # same object, help without the type column
        elif isinstance(param, typer.core.TyperOption) and param.metavar is None:
            param.metavar = "" if param.is_flag else _word(param)


def _word(option: typer.core.TyperOption) -> str:
    described = option.type_descriptor
    if described.choices:
        return "|".join(str(c.value if isinstance(c, Enum) else c) for c in described.choices)
    annotation = described.annotation
    items = getattr(annotation, "__args__", None) if described.is_list else None
    kind = items[0] if items else annotation
    return WORDS.get(kind, "FILE" if described.is_path else "VALUE")


class Group(typer.core.TyperGroup):
    """A command group whose help, and its commands' help, name values with words."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        params = super().get_params(ctx)
        worded(params)
        return params

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None and not isinstance(found, Group):  # a group words its own
            worded(found.get_params(ctx))
        return found

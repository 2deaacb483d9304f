"""The one exception tree: every error class lives in ``gatekey.errors`` with its own code."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import gatekey
from gatekey import errors, problem_documents


def _every_module() -> None:
    for found in pkgutil.walk_packages(gatekey.__path__, "gatekey."):
        if not found.name.endswith("__main__") and ".migrations." not in found.name:
            importlib.import_module(found.name)


def _tree() -> list[type[errors.GatekeyError]]:
    found: list[type[errors.GatekeyError]] = []
    pending = [errors.GatekeyError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_error_class_lives_in_errors_with_a_code_of_its_own() -> None:
    _every_module()
    tree = _tree()
    assert {c.__name__ for c in tree if c.__module__ != "gatekey.errors"} == set()
    codes = [c.code for c in tree]
    assert len(codes) == len(set(codes))
    assert {c.__name__ for c in tree} == set(errors.__all__)


def test_the_client_maps_every_code_back_to_its_class() -> None:
    _every_module()
    assert {c.code: c for c in _tree()} == problem_documents.ERRORS


def test_every_error_is_drawn_in_the_module_docstring() -> None:
    drawn = set((errors.__doc__ or "").split())
    assert [c.__name__ for c in _tree() if c.__name__ not in drawn] == []
    assert [c.code for c in _tree()[1:] if c.code not in drawn] == []


def test_a_hint_names_a_known_next_step_only() -> None:
    assert errors.Hint("signin_link").params == {}
    with pytest.raises(ValueError, match="no next step"):
        errors.Hint("reboot")
    assert errors.InvalidInput("x", hint=errors.Hint("signin_link")).hint == errors.Hint(
        "signin_link"
    )


def test_every_adapter_says_every_next_step() -> None:
    from gatekey.cli.app import NEXT_COMMAND
    from gatekey.web.errors import NEXT_STEP

    assert set(NEXT_COMMAND) == set(NEXT_STEP) == errors.NEXT_STEPS

"""The CLI's prompts and ``apps show`` offer a field's choices, with its default."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from gatekey.catalog.schema import App
from gatekey.cli.fields import ask_missing, describe
from tests.fakes.apps import portal


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _answer(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    monkeypatch.setattr("sys.stdin", _Terminal("".join(f"{line}\n" for line in lines)))


PORTAL = App.model_validate(portal())
CONFIG = PORTAL.method("oauth2").config


def test_choices_are_asked_for_with_their_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _answer(monkeypatch, "", "")  # Enter twice: the defaults
    assert ask_missing(CONFIG, {}, secrets=False) == {"region": "eu", "tenant": "common"}
    asked = capsys.readouterr().err
    assert "Region (eu, us) [eu]:" in asked
    assert "Tenant (common, organizations, consumers, or another) [common]:" in asked


def test_closed_choices_ask_again_for_a_value_not_offered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _answer(monkeypatch, "mars", "us", "0b0e3b3c-8d2a-4b59-9a11-4c63c37a0d7e")
    assert ask_missing(CONFIG, {}, secrets=False) == {
        "region": "us",
        "tenant": "0b0e3b3c-8d2a-4b59-9a11-4c63c37a0d7e",
    }
    assert "mars is not one of eu, us" in capsys.readouterr().err


def test_given_values_and_secrets_are_not_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    _answer(monkeypatch)
    given = {"region": "us", "tenant": "consumers"}
    assert ask_missing(CONFIG, given, secrets=False) == given
    assert ask_missing(CONFIG, {}, secrets=True) == {}


def test_apps_show_names_the_choices() -> None:
    out = Console(file=io.StringIO(), width=200)
    describe(PORTAL, out)
    shown = out.file.getvalue()  # type: ignore[attr-defined]
    assert "one of eu (Europe), us (United States); default eu" in shown
    assert "one of common (Any account), organizations (Work or school accounts), " in shown
    assert "or any value of its form; default common" in shown

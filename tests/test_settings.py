"""Settings from ``GATEKEY_*``, and what ``gatekey serve`` recorded in the home filling in
what the environment leaves unset."""

from __future__ import annotations

import pytest

from gatekey.home import Served
from gatekey.settings import Settings

SERVED = Served(origin="http://127.0.0.1:8141", demo=True)


@pytest.fixture(autouse=True)
def _no_gatekey_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GATEKEY_PUBLIC_URL", "GATEKEY_DEMO", "GATEKEY_PORT", "GATEKEY_HOST"):
        monkeypatch.delenv(name, raising=False)


def test_links_and_the_demo_follow_what_serve_recorded() -> None:
    settings = Settings().following(SERVED)
    assert settings.origin == "http://127.0.0.1:8141"
    assert settings.callback_url == "http://127.0.0.1:8141/oauth/callback"
    assert settings.demo is True


def test_the_environment_wins_over_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEKEY_PUBLIC_URL", "https://gatekey.example.com/")
    monkeypatch.setenv("GATEKEY_DEMO", "false")
    settings = Settings().following(SERVED)
    assert settings.origin == "https://gatekey.example.com"
    assert settings.demo is False


def test_without_a_record_the_settings_stay_as_they_are() -> None:
    settings = Settings()
    assert settings.following(None) is settings
    assert settings.origin == "http://127.0.0.1:8040"

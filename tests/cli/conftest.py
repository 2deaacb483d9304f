"""The command line's environment: a home and a database of the test's own, no master key."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GATEKEY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GATEKEY_DATABASE_URL", database_url)
    monkeypatch.delenv("GATEKEY_MASTER_KEYS", raising=False)
    return tmp_path / "home"

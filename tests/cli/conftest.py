from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from gatekey.cli.serve import MIGRATION_LOGGER


@pytest.fixture
def env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh Gatekey home and database, as a first ``gatekey`` command finds them."""
    monkeypatch.setenv("GATEKEY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GATEKEY_DATABASE_URL", database_url)
    monkeypatch.delenv("GATEKEY_MASTER_KEYS", raising=False)
    return tmp_path / "home"


@pytest.fixture(autouse=True)
def _root_logger_restored() -> Iterator[None]:
    """``gatekey worker`` (and ``serve``) install Gatekey's handler on the root logger, bound
    to the stderr ``CliRunner`` swaps in and closes after the command: put the root logger
    back as it was after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    migrations = logging.getLogger(MIGRATION_LOGGER)
    migrations_level = migrations.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    migrations.setLevel(migrations_level)

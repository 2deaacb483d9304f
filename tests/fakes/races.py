"""Races made deterministic: the window between a check and the write it guards."""

from __future__ import annotations

from typing import Any

import pytest

from gatekey.store import connections as connection_rows


def miss_next_name_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next connection-name check answer "free", as when another writer takes the
    name between that check and the write: only the unique index stands in the way then."""
    real = connection_rows.name_taken
    missed: list[bool] = []

    def stale_once(*args: Any, **kwargs: Any) -> bool:
        if not missed:
            missed.append(True)
            return False
        return real(*args, **kwargs)

    monkeypatch.setattr(connection_rows, "name_taken", stale_once)

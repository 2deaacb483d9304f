"""A step module that raises ``SystemExit`` when imported, as ``venv.__main__`` does."""

from __future__ import annotations

from typing import Any

raise SystemExit("this module exits on import")


def step(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    return None

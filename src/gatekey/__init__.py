"""Gatekey: the connections layer for workflow automation.

``from gatekey import Client`` loads the HTTP SDK only; ``Gatekey`` (the embedded service, with
SQLAlchemy, Alembic and the rest) is imported on first use, so a worker that only talks to a
server starts in a fraction of the time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gatekey.client import Client
from gatekey.errors import GatekeyError

if TYPE_CHECKING:
    from gatekey.embedded import Gatekey

__version__ = "0.1.0"

__all__ = ["Client", "Gatekey", "GatekeyError", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Gatekey":
        from gatekey.embedded import Gatekey

        return Gatekey
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

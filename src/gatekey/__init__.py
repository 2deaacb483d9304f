"""Gatekey: the connections layer for workflow automation."""

from __future__ import annotations

from gatekey.client import Client
from gatekey.embedded import Gatekey
from gatekey.errors import GatekeyError

__version__ = "0.1.0"

__all__ = ["Client", "Gatekey", "GatekeyError", "__version__"]

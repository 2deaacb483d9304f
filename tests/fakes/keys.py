"""The master key the suite's settings and child processes use (32 bytes of 0x07)."""

from __future__ import annotations

import base64

MASTER_KEY = "mk-test-1:" + base64.b64encode(b"\x07" * 32).decode()

"""Status webhooks, the pure part: event types, payloads, signatures and the retry schedule.

A delivery is signed like Stripe's: ``Gatekey-Signature: t=<unix seconds>,v1=<hex>`` where the
hex is HMAC-SHA256 over ``"<t>.<body>"`` with the endpoint's secret. Receivers recompute it,
compare in constant time and refuse old timestamps (``verify`` does all three).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from gatekey.domain.connection import Event

EVENTS = tuple(event.value for event in Event)
PING = "webhook.ping"
SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix of generated secrets, not a secret)
MAX_ATTEMPTS = 8
_BACKOFF = (10, 30, 120, 600, 1800, 3600, 3 * 3600)  # seconds before attempts 2..8
TOLERANCE = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def retry_delay(attempts: int) -> timedelta | None:
    """The wait after ``attempts`` failed attempts, or None when the delivery has failed."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return timedelta(seconds=_BACKOFF[min(attempts, len(_BACKOFF)) - 1])


class Described(Protocol):
    """What an event may say about a connection (a stored row has it all)."""

    @property
    def id(self) -> str: ...
    @property
    def project_id(self) -> str: ...
    @property
    def app_key(self) -> str: ...
    @property
    def auth_kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def status_reason(self) -> str | None: ...
    @property
    def account_label(self) -> str | None: ...


def connection_payload(row: Described) -> dict[str, Any]:
    """What an event says about a connection: never a secret, a field value or a config value."""
    return {
        "id": row.id,
        "project_id": row.project_id,
        "app": row.app_key,
        "auth_kind": row.auth_kind,
        "name": row.name,
        "status": row.status,
        "status_reason": row.status_reason,
        "account_label": row.account_label,
    }


def body(event_id: str, event_type: str, at: datetime, data: Mapping[str, Any]) -> bytes:
    document = {"id": event_id, "type": event_type, "created_at": at.isoformat(), "data": data}
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, timestamp: int, payload: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, payload: bytes, now: float, tolerance: int = TOLERANCE
) -> bool:
    """Check a ``Gatekey-Signature`` header: the MAC, and a timestamp within ``tolerance``."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, payload).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))

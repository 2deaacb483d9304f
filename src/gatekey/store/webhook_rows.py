"""Typed records of webhook endpoints and their deliveries (``store.rows`` says how records
are built and pinned to their tables)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gatekey.store.rows import Record


@dataclass(frozen=True, slots=True, repr=False)
class EndpointRow(Record):
    """A webhook endpoint, without its sealed signing secret."""

    id: str
    project_id: str
    url: str
    description: str
    events: list[str]
    created_at: datetime


@dataclass(frozen=True, slots=True, repr=False)
class DeliveryRow(Record):
    """One event queued for one endpoint (the outbox), and how sending it went."""

    _shown = ("id", "event_type", "status")

    id: str
    endpoint_id: str
    project_id: str
    event_id: str
    event_type: str
    body: bytes
    status: str
    attempts: int
    next_attempt_at: datetime | None
    claimed_until: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True, repr=False)
class DeliveryToSend(DeliveryRow):
    """A delivery with where it goes and its endpoint's sealed signing secret (never shown)."""

    url: str
    secret_ciphertext: bytes
    dek_wrapped: bytes
    kek_id: str

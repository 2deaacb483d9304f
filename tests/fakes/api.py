"""Requests the API tests make again and again, over FastAPI's test client."""

from __future__ import annotations

import httpx2
from fastapi.testclient import TestClient

from tests.fakes.providers import GOOD_SENDGRID

MISSING = "conn_01JD3W6ZK2Q8V5N0C7H9X4T1RB"
"""A well-formed connection id that no test ever creates."""


def create_sendgrid(
    client: TestClient, headers: dict[str, str], name: str = "SendGrid - Production"
) -> httpx2.Response:
    """POST a SendGrid connection the fake providers accept."""
    body = {"app": "sendgrid", "name": name, "fields": {"api_key": GOOD_SENDGRID}}
    return client.post("/api/v1/connections", json=body, headers=headers)

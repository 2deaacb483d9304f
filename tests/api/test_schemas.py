"""The request bodies as the OpenAPI document describes them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("body", ["ConnectionCreate", "ConnectionUpdate"])
def test_skip_test_is_described_wherever_credentials_are_stored(
    client: TestClient, body: str
) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"][body]
    skip_test = schema["properties"]["skip_test"]
    assert skip_test["type"] == "boolean" and skip_test["default"] is False
    assert "without asking the provider" in skip_test["description"]
    assert "skip_test" not in schema.get("required", [])

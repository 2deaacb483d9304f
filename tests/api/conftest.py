"""The API over HTTP: a test client on the runtime, and API keys of each kind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gatekey.runtime import Runtime
from gatekey.server import create_app
from gatekey.service import Actor, Service


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as test_client:
        yield test_client


@pytest.fixture
def admin(service: Service, actor: Actor) -> dict[str, str]:
    key = service.access.create_key(actor, name="admin", role="admin")
    return {"Authorization": f"Bearer {key.token}"}


@pytest.fixture
def worker(service: Service, actor: Actor) -> dict[str, str]:
    key = service.access.create_key(actor, name="worker", role="runtime")
    return {"Authorization": f"Bearer {key.token}"}


@pytest.fixture
def outsider(service: Service, other_actor: Actor) -> dict[str, str]:
    key = service.access.create_key(other_actor, name="outsider", role="admin")
    return {"Authorization": f"Bearer {key.token}"}

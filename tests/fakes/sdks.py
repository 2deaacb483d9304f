"""Either SDK on a test database: ``Gatekey`` in process, or ``Client`` over the real ASGI app.

The HTTP one sends every request through a ``TestClient`` on ``create_app``, so it meets the
routes, the problem documents and the API-key check a deployed server has, with no socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
from fastapi.testclient import TestClient

from gatekey import Client, Gatekey
from gatekey.runtime import open_runtime
from gatekey.sdk import SDK
from gatekey.server import create_app
from gatekey.service import Actor
from gatekey.settings import Settings

KINDS = ["embedded", "http"]


@contextmanager
def open_sdk(kind: str, settings: Settings, transport: httpx2.BaseTransport) -> Iterator[SDK]:
    """Yield the ``kind`` SDK acting as an admin of the ``default`` project."""
    if kind == "embedded":
        assert settings.master_keys is not None
        with Gatekey(
            settings.database_url,
            home=settings.home,
            master_keys=settings.master_keys.get_secret_value(),
            transport=transport,
        ) as embedded:
            yield embedded
        return
    runtime = open_runtime(settings, transport=transport)
    try:
        project, _ = runtime.service.system.bootstrap()
        key = runtime.service.access.create_key(
            Actor.operator(project.id), name="sdk", role="admin"
        )
        with (
            TestClient(create_app(runtime)) as server,
            Client(
                "http://testserver", key.token, transport=httpx2.MockTransport(server.send)
            ) as c,
        ):
            yield c
    finally:
        runtime.close()

"""While the database is down every request answers ``503 database_unavailable`` with
``Retry-After`` (a plain page for a browser), never a 500 text page; once it is back, the same
requests are served again. A private PostgreSQL cluster, really stopped (PostgreSQL tests only).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gatekey.runtime import open_runtime
from gatekey.server import create_app
from gatekey.service import Actor
from gatekey.settings import Settings
from gatekey.web.deps import COOKIE
from tests.fakes.keys import MASTER_KEY
from tests.fakes.postgres_cluster import PrivatePostgres
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders

pytestmark = pytest.mark.slow  # an outage: a database stopped and started


@pytest.fixture
def served(
    tmp_path: Path, private_cluster: PrivatePostgres
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    url = private_cluster.create_database(f"api_{uuid.uuid4().hex[:8]}")
    settings = Settings(home=tmp_path / "home", database_url=url, master_keys=MASTER_KEY)
    runtime = open_runtime(settings, transport=FakeProviders().transport())
    service = runtime.service
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    admin = service.access.create_key(actor, name="admin", role="admin").token
    worker = service.access.create_key(actor, name="worker", role="runtime").token
    cookie, _ = service.system.sign_in(api_key=admin)
    created = service.connections.create(
        actor, app="sendgrid", name="SendGrid", fields={"api_key": GOOD_SENDGRID}, validate=False
    )
    keys = {"admin": admin, "worker": worker, "cookie": cookie, "connection": created.id}
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield client, keys
    private_cluster.ensure_running()
    runtime.close()


def test_requests_while_the_database_is_down_get_503_with_retry_after(
    served: tuple[TestClient, dict[str, str]], private_cluster: PrivatePostgres
) -> None:
    client, keys = served
    credentials = f"/api/v1/connections/{keys['connection']}/credentials"
    worker = {"Authorization": f"Bearer {keys['worker']}"}
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    assert client.post(credentials, headers=worker).status_code == 200

    private_cluster.stop("fast")
    try:
        answers = [
            client.post(credentials, headers=worker),
            client.get("/api/v1/connections", headers=admin),
            client.get(f"/api/v1/connections/{keys['connection']}", headers=admin),
        ]
        client.cookies.set(COOKIE, keys["cookie"])
        page = client.get("/connections", headers={"Accept": "text/html"})
    finally:
        private_cluster.start()

    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "database_unavailable"
        assert int(answer.headers["retry-after"]) >= 1
        assert str(private_cluster.port) not in answer.text, "no host or port in the answer"
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "Temporarily unavailable" in page.text and page.headers["retry-after"] == "1"

    served_again = client.post(credentials, headers=worker)
    assert served_again.status_code == 200
    assert served_again.json()["fields"]["api_key"] == GOOD_SENDGRID

"""Fixtures shared by the suite: a database per test on SQLite and, when
``GATEKEY_TEST_DATABASE_URL`` is set, on PostgreSQL too; a runtime wired to fake providers.

The test servers (sandbox, loopback providers, oauth2-mock-server) listen on 127.0.0.1, which
the egress guard refuses by default; the suite allows that one address, as an operator would,
through ``GATEKEY_EGRESS_ALLOW`` (inherited by the processes tests start). The guard's own tests
build their policies explicitly.

python steps: the suite registers ``tests/fakes/steps.py`` through ``GATEKEY_STEPS``, puts the
repository on ``PYTHONPATH`` (so the step child can import it) and, when it runs as root, picks
in ``GATEKEY_STEP_PYTHON`` an interpreter that ``nobody`` can run."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, ConnectionService
from gatekey.settings import Settings
from gatekey.store.database import Database
from gatekey.store.tables import metadata
from gatekey.workflows.engine import Engine
from tests.fakes import step_setup
from tests.fakes.postgres_cluster import PrivatePostgres, private_postgres, unavailable_reason
from tests.fakes.providers import FakeProviders
from tests.fakes.sandbox import Sandbox, running_sandbox, sandbox_project

os.environ.setdefault("GATEKEY_EGRESS_ALLOW", "127.0.0.1")
os.environ.setdefault("GATEKEY_STEPS", step_setup.setting())
os.environ.setdefault("GATEKEY_STEP_PYTHON", step_setup.interpreter())
os.environ["PYTHONPATH"] = step_setup.python_path()

PG_ENV = "GATEKEY_TEST_DATABASE_URL"
MASTER_KEY = "mk-test-1:" + base64.b64encode(b"\x07" * 32).decode()

BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get(PG_ENV) else [])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test process, dropped at the end."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    url = make_url(base)
    name = f"{url.database}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    fresh = url.set(database=name).render_as_string(hide_password=False)
    db = Database(fresh)
    db.migrate()
    db.dispose()
    yield fresh
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def private_cluster() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this test process's own, to stop and restart; the shared server
    is never touched. Runs where the PostgreSQL tests run (``GATEKEY_TEST_DATABASE_URL``)."""
    if not os.environ.get(PG_ENV):
        pytest.skip(f"{PG_ENV} is not set")
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with private_postgres() as cluster:
        yield cluster


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL with an empty, migrated schema; one per test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gatekey.db'}"
    url: str = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        names = ", ".join(t.name for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def providers() -> FakeProviders:
    return FakeProviders()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        master_keys=MASTER_KEY,
        audit_flush_interval=0.05,
    )


@pytest.fixture
def runtime(settings: Settings, providers: FakeProviders) -> Iterator[Runtime]:
    rt = open_runtime(settings, transport=providers.transport())
    yield rt
    rt.close()


@pytest.fixture
def service(runtime: Runtime) -> ConnectionService:
    return runtime.service


@pytest.fixture
def engine(runtime: Runtime) -> Engine:
    return runtime.engine


@pytest.fixture
def actor(service: ConnectionService) -> Actor:
    project, _ = service.bootstrap()
    return Actor.operator(project.id)


@pytest.fixture
def other_actor(service: ConnectionService) -> Actor:
    return Actor.operator(service.create_project("other").id)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox() as running:
        yield running


@pytest.fixture
def oauth_runtime(settings: Settings, sandbox: Sandbox) -> Iterator[Runtime]:
    sandbox.control("reset")
    sandbox.control("ttl", seconds=3600)
    rt = open_runtime(settings, extra_apps=[sandbox.app])
    yield rt
    rt.close()


@pytest.fixture
def oauth_service(oauth_runtime: Runtime) -> ConnectionService:
    return oauth_runtime.service


@pytest.fixture
def oauth_engine(oauth_runtime: Runtime) -> Engine:
    return oauth_runtime.engine


@pytest.fixture
def oauth_actor(oauth_service: ConnectionService) -> Actor:
    return sandbox_project(oauth_service)

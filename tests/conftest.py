"""Fixtures shared by the suite: a database per test on SQLite and, when
``GATEKEY_TEST_DATABASE_URL`` is set, on PostgreSQL too; a runtime wired to fake providers.

Each test's database is a copy of one migrated once per session, and the built-in catalog is
parsed once per session (``tests/fakes/databases.py``, ``tests/fakes/catalog.py``). A run
without PostgreSQL says so in its summary, so a green local run is not mistaken for CI's.
Tests marked ``slow`` (fuzzing, crashes, several processes, a browser, outages) are left out
by ``-m "not slow"``, the quick inner loop; CI and the README's command run them all.

The test servers (sandbox, loopback providers, oauth2-mock-server) listen on 127.0.0.1, which
the egress guard refuses by default; the suite allows that one address, as an operator would,
through ``GATEKEY_EGRESS_ALLOW`` (inherited by the processes tests start). The guard's own tests
build their policies explicitly.

python steps: the suite registers ``tests/fakes/steps.py`` through ``GATEKEY_STEPS``, puts the
repository on ``PYTHONPATH`` (so the step child can import it) and, when it runs as root, picks
in ``GATEKEY_STEP_PYTHON`` an interpreter that ``nobody`` can run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.workflows.engine import Engine
from tests.fakes import step_setup
from tests.fakes.catalog import parsed_once
from tests.fakes.databases import PostgresDatabases, migrated_sqlite, sqlite_copy
from tests.fakes.keys import MASTER_KEY
from tests.fakes.postgres_cluster import PrivatePostgres, private_postgres, unavailable_reason
from tests.fakes.providers import FakeProviders
from tests.fakes.sandbox import Sandbox, running_sandbox, sandbox_project

os.environ.setdefault("GATEKEY_EGRESS_ALLOW", "127.0.0.1")
os.environ.setdefault("GATEKEY_STEPS", step_setup.setting())
os.environ.setdefault("GATEKEY_STEP_PYTHON", step_setup.interpreter())
os.environ["PYTHONPATH"] = step_setup.python_path()

PG_ENV = "GATEKEY_TEST_DATABASE_URL"

BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get(PG_ENV) else [])
_CATALOG = pytest.StashKey[ExitStack]()
_SQLITE_ONLY = pytest.StashKey[tuple[int, int]]()


def pytest_configure(config: pytest.Config) -> None:
    # From configure on, so modules that load the catalog at import (collection) share it too.
    stack = ExitStack()
    stack.enter_context(parsed_once())
    config.stash[_CATALOG] = stack


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CATALOG in config.stash:
        config.stash[_CATALOG].close()


def pytest_collection_finish(session: pytest.Session) -> None:
    if os.environ.get(PG_ENV):
        return
    items = session.items  # what runs, after -k and -m
    on_sqlite = sum(1 for item in items if {"database_url", "empty_database_url"} & _fixtures(item))
    postgres_only = sum(1 for item in items if _needs_postgres(item))
    session.config.stash[_SQLITE_ONLY] = (on_sqlite, postgres_only)


def _fixtures(item: pytest.Item) -> set[str]:
    return set(getattr(item, "fixturenames", ()))


def _needs_postgres(item: pytest.Item) -> bool:
    return "private_cluster" in _fixtures(item) or item.get_closest_marker("postgres") is not None


@pytest.hookimpl(trylast=True)  # after the durations, just above the outcome line
def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """Say, in colour, that the PostgreSQL half did not run (when it did not)."""
    on_sqlite, postgres_only = config.stash.get(_SQLITE_ONLY, (0, 0))
    if config.option.collectonly or not (on_sqlite or postgres_only):
        return
    terminalreporter.write_sep(
        "!",
        f"the PostgreSQL half did not run: {on_sqlite} database tests ran on SQLite only and "
        f"{postgres_only} PostgreSQL tests were skipped; set {PG_ENV} (CI does)",
        yellow=True,
        bold=True,
    )


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    """The PostgreSQL databases of this test process; skips the test when none is configured."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    databases = PostgresDatabases(base)
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def postgres_template(postgres: PostgresDatabases) -> Iterator[str]:
    """A PostgreSQL database migrated once per session, copied by each test that needs one."""
    url = postgres.migrated()
    yield url
    postgres.drop(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session, copied by each test that needs one."""
    return migrated_sqlite(tmp_path_factory.mktemp("template") / "gatekey.db")


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
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL with the newest schema and no rows; one database per test."""
    if request.param == "sqlite":
        yield sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path / "gatekey.db")
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    url = postgres.create(template=request.getfixturevalue("postgres_template"))
    yield url
    postgres.drop(url)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL with no schema at all, for the tests that migrate from empty."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    url = postgres.create()
    yield url
    postgres.drop(url)


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
    rt = open_runtime(settings, transport=providers.transport(), migrate=False)  # a template copy
    yield rt
    rt.close()


@pytest.fixture
def service(runtime: Runtime) -> Service:
    return runtime.service


@pytest.fixture
def engine(runtime: Runtime) -> Engine:
    return runtime.engine


@pytest.fixture
def actor(service: Service) -> Actor:
    project, _ = service.system.bootstrap()
    return Actor.operator(project.id)


@pytest.fixture
def other_actor(service: Service) -> Actor:
    return Actor.operator(service.system.create_project("other").id)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox() as running:
        yield running


@pytest.fixture
def oauth_runtime(settings: Settings, sandbox: Sandbox) -> Iterator[Runtime]:
    sandbox.control("reset")
    sandbox.control("ttl", seconds=3600)
    rt = open_runtime(settings, extra_apps=[sandbox.app], migrate=False)  # a template copy
    yield rt
    rt.close()


@pytest.fixture
def oauth_service(oauth_runtime: Runtime) -> Service:
    return oauth_runtime.service


@pytest.fixture
def oauth_engine(oauth_runtime: Runtime) -> Engine:
    return oauth_runtime.engine


@pytest.fixture
def oauth_actor(oauth_service: Service) -> Actor:
    return sandbox_project(oauth_service)

"""``GATEKEY_HOME`` 0700 and the SQLite files 0600: made so on a fresh start, tightened on an
existing loose install, or the start refused saying why (another user's files)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gatekey.cli import app
from gatekey.errors import CryptoError, InsecureHome
from gatekey.home import SERVED_FILE, Served, read_served, record_served
from gatekey.runtime import open_runtime
from gatekey.service import Actor
from gatekey.settings import Settings
from tests.fakes.providers import GOOD_SENDGRID

NOBODY = 65534


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask most installs have, which leaves new files 0644 and directories 0755."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _start(home: Path) -> None:
    runtime = open_runtime(Settings(home=home, database_url=None))
    try:
        project, _ = runtime.service.system.bootstrap()
        operator = Actor.operator(project.id)
        runtime.service.connections.create(
            operator,
            app="sendgrid",
            name=f"SendGrid {len(runtime.service.connections.list(operator).items)}",
            fields={"api_key": GOOD_SENDGRID},
            validate=False,
        )
        sidecars = [p for p in home.iterdir() if p.name.startswith("gatekey.db-")]
        assert sidecars, "WAL mode keeps -wal and -shm files while the database is open"
        assert {p.name: _mode(p) for p in sidecars} == {p.name: 0o600 for p in sidecars}
    finally:
        runtime.close()


def test_a_fresh_start_makes_the_home_0700_and_the_database_0600(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    _start(home)
    assert _mode(home) == 0o700
    assert _mode(home / "gatekey.db") == 0o600
    assert _mode(home / "master.key") == 0o600


def test_a_loose_existing_install_is_tightened(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _start(home)
    home.chmod(0o755)
    for path in home.iterdir():
        if path.name.startswith("gatekey.db"):
            path.chmod(0o644)
    (home / "gatekey.db-journal").write_bytes(b"")
    (home / "gatekey.db-journal").chmod(0o666)
    _start(home)
    assert _mode(home) == 0o700
    assert {p.name: _mode(p) for p in home.iterdir() if p.name.startswith("gatekey.db")} == {
        p.name: 0o600 for p in home.iterdir() if p.name.startswith("gatekey.db")
    }


def test_a_database_elsewhere_is_created_0600(tmp_path: Path) -> None:
    database = tmp_path / "data" / "app.db"
    runtime = open_runtime(Settings(home=tmp_path / "home", database_url=f"sqlite:///{database}"))
    runtime.close()
    assert _mode(database) == 0o600


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file away needs root")


@needs_root
def test_a_home_of_another_user_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chown(home, NOBODY, NOBODY)
    with pytest.raises(InsecureHome, match=f"{home} belongs to user id {NOBODY}"):
        open_runtime(Settings(home=home, database_url=None))
    assert _mode(home) == 0o755 and not (home / "gatekey.db").exists()

    monkeypatch.setenv("GATEKEY_HOME", str(home))
    monkeypatch.delenv("GATEKEY_DATABASE_URL", raising=False)
    monkeypatch.delenv("GATEKEY_MASTER_KEYS", raising=False)
    result = CliRunner().invoke(app, ["migrate"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error [insecure_home]: GATEKEY_HOME")


@needs_root
def test_a_database_file_of_another_user_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _start(home)
    os.chown(home / "gatekey.db", NOBODY, NOBODY)
    with pytest.raises(InsecureHome, match=r"the database file .*gatekey\.db belongs to user id"):
        open_runtime(Settings(home=home, database_url=None))


@needs_root
def test_a_key_file_of_another_user_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _start(home)
    os.chown(home / "master.key", NOBODY, NOBODY)
    with pytest.raises(CryptoError, match=r"master\.key belongs to user id"):
        open_runtime(Settings(home=home, database_url=None))


def test_what_serve_serves_is_recorded_privately_and_read_back(tmp_path: Path) -> None:
    assert read_served(tmp_path) is None
    record_served(tmp_path, Served(origin="http://127.0.0.1:8141", demo=True))
    record_served(tmp_path, Served(origin="http://127.0.0.1:8142", demo=False))
    assert read_served(tmp_path) == Served(origin="http://127.0.0.1:8142", demo=False)
    assert _mode(tmp_path / SERVED_FILE) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [SERVED_FILE], "no partial file left"


def test_an_unreadable_record_is_ignored_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / SERVED_FILE).write_text('{"origin": ')
    assert read_served(tmp_path) is None
    assert f"ignoring {tmp_path / SERVED_FILE}: JSONDecodeError" in caplog.text

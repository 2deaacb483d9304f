"""The embedded SDK: the service in the caller's process, and where it keeps the master key."""

from __future__ import annotations

import logging
import shutil
import stat
from pathlib import Path

import pytest

from gatekey import Gatekey
from gatekey.embedded import key_beside_database
from gatekey.runtime import open_runtime
from gatekey.settings import Settings
from tests.fakes.keys import MASTER_KEY
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders


def test_embedded_mode_needs_no_server(tmp_path: Path, database_url: str) -> None:
    providers = FakeProviders()
    with Gatekey(
        database_url, home=tmp_path, master_keys=MASTER_KEY, transport=providers.transport()
    ) as gk:
        conn = gk.create_connection("sendgrid", "SendGrid - Production", {"api_key": GOOD_SENDGRID})
        assert gk.list_connections().items[0].id == conn.id
        assert gk.resolve_credentials(conn.id).headers["Authorization"].endswith(GOOD_SENDGRID)
        assert gk.rename_connection(conn.id, "Renamed").name == "Renamed"
        assert gk.set_default(conn.id).is_default
        assert gk.test_connection(conn.id).ok
        assert gk.delete_connection(conn.id).was_default
    with Gatekey(database_url, home=tmp_path, master_keys=MASTER_KEY) as again:
        assert again.list_connections().items == []
        assert next(e.action for e in again.audit_trail()) == "connection.delete"


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A newcomer's folder and user home: no ``GATEKEY_*`` setting, ``~`` a fresh folder."""
    for name in ("GATEKEY_HOME", "GATEKEY_MASTER_KEYS", "GATEKEY_MASTER_KEY_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    return project


def _store_one(url: str) -> str:
    with Gatekey(url) as gk:
        made = gk.create_connection("sendgrid", "SG", {"api_key": GOOD_SENDGRID}, skip_test=True)
    return made.id


def _reads(url: str, connection_id: str) -> bool:
    with Gatekey(url) as gk:
        creds = gk.resolve_credentials(connection_id)
    return creds.headers["Authorization"] == f"Bearer {GOOD_SENDGRID}"


def test_a_new_database_keeps_its_key_beside_it_and_says_so(
    fresh: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gatekey.embedded"):
        connection_id = _store_one("sqlite:///app.db")
        assert _reads("sqlite:///app.db", connection_id)
    key = fresh / "app.db.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert not (fresh.parent / "user" / ".gatekey" / "master.key").exists()
    [said] = [r.getMessage() for r in caplog.records if "master key" in r.getMessage()]
    assert said.startswith(f"Created master key file {key} (mode 0600) for the database ")
    assert "back it up" in said


def test_a_database_copied_with_its_key_opens_elsewhere(fresh: Path, tmp_path: Path) -> None:
    connection_id = _store_one("sqlite:///app.db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("app.db", "app.db.key"):
        shutil.copy2(fresh / name, elsewhere / name)
    assert _reads(f"sqlite:///{elsewhere / 'app.db'}", connection_id)


def test_an_existing_key_file_is_used_never_replaced(fresh: Path) -> None:
    connection_id = _store_one("sqlite:///app.db")
    before = (fresh / "app.db.key").read_bytes()
    assert _reads("sqlite:///app.db", connection_id)
    assert (fresh / "app.db.key").read_bytes() == before


def test_what_the_caller_chose_wins(
    fresh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Gatekey("sqlite:///keys-given.db", master_keys=MASTER_KEY):
        pass
    with Gatekey("sqlite:///home-given.db", home=tmp_path / "chosen"):
        pass
    monkeypatch.setenv("GATEKEY_MASTER_KEY_PATH", str(tmp_path / "vault" / "gatekey.key"))
    with Gatekey("sqlite:///path-given.db"):
        pass
    assert not list(fresh.glob("*.key")), "no key file beside any of them"
    assert (tmp_path / "chosen" / "master.key").exists()
    assert (tmp_path / "vault" / "gatekey.key").exists()


def test_a_database_made_with_the_home_s_key_goes_on_with_it(fresh: Path) -> None:
    home = fresh.parent / "user" / ".gatekey"
    settings = Settings(database_url="sqlite:///old.db", master_key_path=home / "master.key")
    open_runtime(settings).close()  # as an earlier Gatekey did: the key in the home
    with Gatekey("sqlite:///old.db") as gk:
        assert gk.runtime.settings.master_key_file == home / "master.key"
    assert not (fresh / "old.db.key").exists()


def test_postgresql_keeps_its_key_in_the_home(fresh: Path) -> None:
    settings = key_beside_database(Settings(database_url="postgresql+psycopg://u@h/db"))
    assert settings.master_key_file == fresh.parent / "user" / ".gatekey" / "master.key"

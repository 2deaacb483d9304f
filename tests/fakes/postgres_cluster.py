"""A throwaway PostgreSQL cluster of the test's own, to stop and restart under load.

The shared server on 5432 serves other people and is never restarted. Tests that need a real
outage start this one instead: Debian's ``initdb`` and ``pg_ctl`` run as the ``postgres`` OS
user (so the test process must be root), with the data directory in a temporary directory
and the server on a free 127.0.0.1 port, trust authentication, ``fsync`` off (the machine
never crashes under it; ``-m immediate`` is a crash of the server, not of the OS).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.fakes.servers import free_port

_BIN_ROOT = Path("/usr/lib/postgresql")


def _bin_dir() -> Path | None:
    found = sorted(_BIN_ROOT.glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def unavailable_reason() -> str | None:
    """Why a private cluster cannot be started here, or None when it can."""
    if _bin_dir() is None:
        return f"no PostgreSQL server binaries under {_BIN_ROOT}"
    if os.geteuid() != 0:
        return "starting a private PostgreSQL cluster needs root (runuser -u postgres)"
    if shutil.which("runuser") is None:
        return "runuser is missing"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no postgres OS user"
    return None


class PrivatePostgres:
    """One cluster: ``url()``, ``create_database()``, ``stop()``, ``start()``, ``restart()``."""

    def __init__(self, root: Path, port: int) -> None:
        bin_dir = _bin_dir()
        assert bin_dir is not None
        self._bin = bin_dir
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = port

    def _run(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )

    def _ctl(self, *args: str) -> None:
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), *args)

    def init(self) -> None:
        self._run(
            str(self._bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off "
            "-c max_connections=200 -c shared_buffers=32MB"
        )
        self._ctl("-w", "-t", "60", "-o", options, "start")

    def running(self) -> bool:
        pg_ctl = str(self._bin / "pg_ctl")
        status = subprocess.run(
            ["runuser", "-u", "postgres", "--", pg_ctl, "-D", str(self.data), "status"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=60,
        )
        return status.returncode == 0

    def ensure_running(self) -> None:
        """Start the server unless it runs (a test that failed mid-outage left it down)."""
        if not self.running():
            self.start()

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-w", "-t", "60", "-m", mode, "stop")

    def restart(self, mode: str = "fast") -> None:
        """Stop (``fast``: sessions are ended; ``immediate``: the server dies) and start again;
        return once it accepts connections."""
        self._ctl("-w", "-t", "60", "-m", mode, "restart")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database; return its URL."""
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """Initialise and start a cluster; stop it and delete its files afterwards."""
    root = Path(tempfile.mkdtemp(prefix="gatekey-pg-"))
    postgres = pwd.getpwnam("postgres")
    os.chown(root, postgres.pw_uid, postgres.pw_gid)
    cluster = PrivatePostgres(root, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with suppress(subprocess.CalledProcessError):  # it was not running
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)

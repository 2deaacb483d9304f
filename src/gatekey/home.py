"""``GATEKEY_HOME`` and the SQLite database: private to the user running Gatekey.

The home holds the master key file and, by default, the database; both are credentials. At
every start the home is created with mode 0700, or an existing one is tightened to it; the
SQLite database file and its ``-wal``, ``-shm`` and ``-journal`` siblings are created 0600
(SQLite gives its sidecar files the mode of the database file) or tightened to it. A home or
file that belongs to another user, or whose mode cannot be changed, stops the start with
``InsecureHome`` saying which path and what to do: Gatekey will not run on files someone
else can read or swap.

The home also remembers what the last ``gatekey serve`` on it served (``served.json``): the
public origin it listens at and whether it runs the demo. Every other process opened on the
home (a CLI command, ``gatekey worker``, the embedded SDK) reads it, so it sees the demo's
Sandbox app and builds links that reach that server.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

from gatekey.errors import InsecureHome

HOME_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")
SERVED_FILE = "served.json"

log = logging.getLogger(__name__)


def _own(path: Path, info: os.stat_result, what: str) -> None:
    if info.st_uid != os.geteuid():
        raise InsecureHome(
            f"{what} {path} belongs to user id {info.st_uid}, not to the user running Gatekey "
            f"({os.geteuid()}); run Gatekey as its owner or give it a home of its own",
            path=str(path),
        )


def _tighten(path: Path, info: os.stat_result, mode: int, what: str) -> None:
    if stat.S_IMODE(info.st_mode) & ~mode:
        try:
            os.chmod(path, mode)
        except OSError as exc:
            raise InsecureHome(
                f"{what} {path} has mode {stat.S_IMODE(info.st_mode):o} and could not be set "
                f"to {mode:o} ({exc.strerror}); chmod {mode:o} it",
                path=str(path),
            ) from None


def secure_home(home: Path) -> None:
    """Create ``home`` 0700, or make an existing one 0700; refuse another user's."""
    try:
        home.mkdir(parents=True, exist_ok=True, mode=HOME_MODE)
        info = home.stat()
    except OSError as exc:
        raise InsecureHome(
            f"GATEKEY_HOME {home} could not be created ({exc.strerror})", path=str(home)
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise InsecureHome(f"GATEKEY_HOME {home} is not a directory", path=str(home))
    _own(home, info, "GATEKEY_HOME")
    _tighten(home, info, HOME_MODE, "GATEKEY_HOME")


def secure_sqlite_file(database: Path) -> None:
    """Create the database file 0600 if missing; make it and its sidecars 0600."""
    database.parent.mkdir(parents=True, exist_ok=True, mode=HOME_MODE)
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    except OSError as exc:
        raise InsecureHome(
            f"the database file {database} could not be created ({exc.strerror})",
            path=str(database),
        ) from None
    for path in [database, *(database.with_name(database.name + s) for s in SQLITE_SIDECARS)]:
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        _own(path, info, "the database file")
        _tighten(path, info, FILE_MODE, "the database file")


@dataclass(frozen=True)
class Served:
    """What a ``gatekey serve`` serves: the origin people reach it at, and the demo or not."""

    origin: str
    demo: bool


def record_served(home: Path, served: Served) -> None:
    """Write what ``serve`` serves into the home (0600, replaced in one step)."""
    target = home / SERVED_FILE
    partial = target.with_name(f".{SERVED_FILE}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(asdict(served), file)
    os.replace(partial, target)


def read_served(home: Path) -> Served | None:
    """What the last ``serve`` on the home served; None if none has (or its record is unreadable,
    which is logged: the process then runs on its own settings alone)."""
    try:
        data = json.loads((home / SERVED_FILE).read_text("utf-8"))
        return Served(origin=str(data["origin"]), demo=bool(data["demo"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring %s: %s", home / SERVED_FILE, type(exc).__name__)
        return None

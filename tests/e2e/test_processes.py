"""Several processes on one database: defaults stay unique, names stay unique, and credential
reads keep working while another process rotates the master key."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest

from gatekey.errors import DuplicateName
from gatekey.runtime import open_runtime
from gatekey.service import Actor
from gatekey.settings import Settings

pytestmark = pytest.mark.slow  # several processes

WORKERS = 6


def _settings(home: str, url: str) -> Settings:
    return Settings(home=Path(home), database_url=url, audit_flush_interval=0.05)


def _create(args: tuple[str, str, str, int]) -> str:
    home, url, project_id, number = args
    runtime = open_runtime(_settings(home, url))
    try:
        actor = Actor.operator(project_id)
        outcomes = []
        for name in (f"SendGrid {number}", "SendGrid shared"):
            try:
                runtime.service.connections.create(
                    actor, app="sendgrid", name=name, fields={"api_key": "SG.a.b"}, validate=False
                )
                outcomes.append("created")
            except DuplicateName:
                outcomes.append("duplicate")
        return ",".join(outcomes)
    finally:
        runtime.close()


def _set_default(args: tuple[str, str, str, str]) -> None:
    home, url, project_id, connection_id = args
    runtime = open_runtime(_settings(home, url))
    try:
        for _ in range(5):
            runtime.service.connections.set_default(Actor.operator(project_id), connection_id)
    finally:
        runtime.close()


def _read_many(args: tuple[str, str, str, list[str], int]) -> int:
    home, url, project_id, ids, rounds = args
    runtime = open_runtime(_settings(home, url))
    try:
        actor = Actor.operator(project_id)
        served = 0
        for _ in range(rounds):
            for cid in ids:
                creds = runtime.service.credentials.resolve(actor, cid)
                assert creds.fields["api_key"] == "SG.rot.ate"
                served += 1
        return served
    finally:
        runtime.close()


def _pool() -> Any:
    return multiprocessing.get_context("spawn").Pool(WORKERS)


def test_concurrent_creates_keep_one_default_and_unique_names(
    tmp_path: Path, database_url: str
) -> None:
    home = str(tmp_path / "home")
    runtime = open_runtime(_settings(home, database_url))
    project, _ = runtime.service.system.bootstrap()
    with _pool() as pool:
        outcomes = pool.map(_create, [(home, database_url, project.id, n) for n in range(WORKERS)])
    actor = Actor.operator(project.id)
    items = runtime.service.connections.list(actor, limit=200).items
    assert len(items) == WORKERS + 1
    assert sum(o.endswith(",created") for o in outcomes) == 1
    assert sum(c.is_default for c in items) == 1

    ids = [c.id for c in items]
    with _pool() as pool:
        pool.map(_set_default, [(home, database_url, project.id, cid) for cid in ids])
    items = runtime.service.connections.list(actor, limit=200).items
    assert sum(c.is_default for c in items) == 1
    audit = runtime.service.audit.verify(actor)
    assert audit.ok and audit.entries >= 2 * WORKERS + 1, audit.breaks
    runtime.close()


def test_reads_keep_working_while_another_process_rotates(
    tmp_path: Path, database_url: str
) -> None:
    home = str(tmp_path / "home")
    runtime = open_runtime(_settings(home, database_url))
    project, _ = runtime.service.system.bootstrap()
    actor = Actor.operator(project.id)
    ids = [
        runtime.service.connections.create(
            actor, app="sendgrid", name=f"SG {i}", fields={"api_key": "SG.rot.ate"}, validate=False
        ).id
        for i in range(60)
    ]
    with _pool() as pool:
        readers = pool.map_async(_read_many, [(home, database_url, project.id, ids, 8)] * 4)
        rotations = 0
        while not readers.ready() or rotations < 2:
            runtime.service.system.rotate_master_key(batch_size=7)
            rotations += 1
        served = readers.get(timeout=300)
    assert served == [60 * 8] * 4
    assert len(runtime.service.system.master_keys()) == rotations + 1
    keys = runtime.service.system.master_keys()
    assert keys[0].data_keys == 60
    assert all(k.data_keys == 0 for k in keys[1:])
    audit = runtime.service.audit.verify(Actor.operator(""), every_project=True)
    assert audit.ok and audit.chains == 2, audit.breaks
    runtime.close()


def _rotate_until_killed(home: str, url: str) -> None:
    """Rotate in small batches and stop dead (to be SIGKILLed) after a few committed batches."""
    runtime = open_runtime(_settings(home, url))
    marker = Path(home, "rewrapping")

    def progress(state: Any) -> None:
        if state.done >= 15:
            marker.write_text(str(state.done))
            time.sleep(600)

    runtime.service.system.rotate_master_key(batch_size=5, progress=progress)


def test_kill_9_mid_rewrap_resumes_while_reads_go_on(tmp_path: Path, database_url: str) -> None:
    home = str(tmp_path / "home")
    runtime = open_runtime(_settings(home, database_url))
    project, _ = runtime.service.system.bootstrap()
    actor = Actor.operator(project.id)
    ids = [
        runtime.service.connections.create(
            actor, app="sendgrid", name=f"SG {i}", fields={"api_key": "SG.rot.ate"}, validate=False
        ).id
        for i in range(60)
    ]
    first = runtime.service.system.master_keys()[0].id
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        readers = pool.map_async(_read_many, [(home, database_url, project.id, ids, 80)] * 3)
        rotator = context.Process(target=_rotate_until_killed, args=(home, database_url))
        rotator.start()
        deadline = time.monotonic() + 120
        while not Path(home, "rewrapping").exists():
            assert time.monotonic() < deadline and rotator.is_alive(), "no batch committed"
            time.sleep(0.02)
        rotator.kill()  # SIGKILL in the middle of the rewrap
        rotator.join()
        middle = {k.id: k.data_keys for k in runtime.service.system.master_keys()}
        assert len(middle) == 2 and 0 < middle[first] < 60, middle

        result = runtime.service.system.rotate_master_key(batch_size=5)  # resumes, adds no key
        served = readers.get(timeout=300)
    assert served == [60 * 80] * 3, "no read failed during the rotation, the kill or the resume"
    keys = runtime.service.system.master_keys()
    assert len(keys) == 2 and result.key_id == keys[0].id != first
    assert {k.id: k.data_keys for k in keys} == {keys[0].id: 60, first: 0}
    runtime.service.system.retire_master_key(first)
    assert [k.id for k in runtime.service.system.master_keys()] == [keys[0].id]
    assert all(
        runtime.service.credentials.resolve(actor, cid).fields["api_key"] == "SG.rot.ate"
        for cid in ids
    )
    runtime.close()

"""Several processes dispatching the same webhook outbox: every delivery is sent exactly once
(the claim is a compare-and-swap), on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gatekey.runtime import open_runtime
from gatekey.service import Actor
from gatekey.settings import Settings
from tests.fakes.keys import MASTER_KEY
from tests.fakes.receiver import receiver

pytestmark = pytest.mark.slow  # several processes

SENDERS = 4
EVENTS = 60


def _settings(home: str, url: str) -> Settings:
    return Settings(home=Path(home), database_url=url, master_keys=MASTER_KEY)


_start: Any = None


def _init(barrier: Any) -> None:
    global _start
    _start = barrier


def _dispatch(args: tuple[str, str]) -> int:
    home, url = args
    runtime = open_runtime(_settings(home, url), migrate=False)
    _start.wait(timeout=60)  # every sender starts at once: they compete for each delivery
    try:
        sent = 0
        while True:
            count = runtime.service.system.deliver_webhooks(limit=5)
            if count == 0:
                return sent
            sent += count
    finally:
        runtime.close()


def test_each_delivery_is_sent_once_by_competing_processes(
    tmp_path: Path, database_url: str
) -> None:
    home = str(tmp_path / "home")
    runtime = open_runtime(_settings(home, database_url))
    project, _ = runtime.service.system.bootstrap()
    actor = Actor.operator(project.id)
    with receiver() as hub:
        webhook = runtime.service.webhooks.add(actor, url=f"{hub.url}/hook")
        for _ in range(EVENTS):
            runtime.service.webhooks.ping(actor, webhook.id)
        hub.delay = 0.02
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(SENDERS)
        with context.Pool(SENDERS, initializer=_init, initargs=(barrier,)) as pool:
            sent = pool.map(_dispatch, [(home, database_url)] * SENDERS, chunksize=1)
        ids = Counter(r.headers["Gatekey-Delivery"] for r in hub.hooks)
    assert sum(sent) == EVENTS and sum(1 for n in sent if n) >= 2, sent
    assert len(ids) == EVENTS and set(ids.values()) == {1}
    log = runtime.service.webhooks.deliveries(actor, webhook.id, limit=500)
    assert {d.status for d in log} == {"delivered"} and len(log) == EVENTS
    runtime.close()

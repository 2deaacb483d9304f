"""A refresh storm: executions on several processes ask for one expired OAuth2 token at once.

The provider (the sandbox authorization server, on its own port) answers the token request
after ``--latency`` ms. Measured side by side in one run, on SQLite and, when
``GATEKEY_BENCH_PG`` names a PostgreSQL server, on PostgreSQL (a database of its own, dropped
at the end). Each worker process (a replica) warms its connection pool and every caller thread
first by resolving the token while it is still valid, as a running server has, and reports
ready; the token is then expired and all are released at one instant.

- ``single``: one caller resolving an expired token (one refresh, nobody waiting);
- ``storm``: ``--processes`` x ``--threads`` callers released at the same instant on one
  expired token; the time until the last of them holds the new token, and the number of token
  requests the provider saw (must be 1).

Printed last: storm time minus provider latency (goal: <= 150 ms) and storm / single.

    python bench/refresh_storm.py [--processes 8] [--threads 25] [--latency 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from gatekey.catalog.schema import App
from gatekey.oauth.sandbox import sandbox_app_definition
from gatekey.runtime import open_runtime
from gatekey.service import Actor, utcnow
from gatekey.settings import Settings
from gatekey.store.tables import connections

sys.path.insert(0, str(Path(__file__).resolve().parent))

from provider import CLIENT_ID, CLIENT_SECRET, serve_provider
from report import write_table
from seeding import databases

# Spawned workers import this module again: the key travels in the environment.
MASTER_KEYS = os.environ.setdefault(
    "GATEKEY_BENCH_MASTER_KEYS", "mk-bench:" + base64.b64encode(os.urandom(32)).decode()
)


def settings_for(home: str, url: str, pool: int = 10) -> Settings:
    return Settings(
        home=Path(home),
        database_url=url,
        master_keys=MASTER_KEYS,
        database_pool_size=pool,
        database_max_overflow=0,
        egress_allow="127.0.0.1",  # the sandbox provider listens on loopback
    )


def _storm(
    args: tuple[str, str, str, str, str, int, int],
    ready: Any,
    go: Any,
    start_at: Any,
    out: Any,
) -> None:
    """One replica: warm every caller thread by resolving the token while it is still valid
    (its pooled or per-thread connection, the decrypted secret, the code paths: what a
    running server's threads have), report ready, then, once the token has expired, release
    them all at ``start_at``; put the times each caller held its token on ``out``."""
    home, url, app_json, project_id, cid, threads, pool = args
    runtime = open_runtime(
        settings_for(home, url, pool), extra_apps=[App.model_validate_json(app_json)], migrate=False
    )
    actor = Actor.operator(project_id)
    if not runtime.db.is_sqlite:
        warm = threading.Barrier(pool)

        def hold_a_connection() -> None:
            with runtime.db.read():
                warm.wait()

        warmers = [threading.Thread(target=hold_a_connection) for _ in range(pool)]
        for warmer in warmers:
            warmer.start()
        for warmer in warmers:
            warmer.join()
    done: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    warmed = threading.Barrier(threads + 1)

    def one() -> None:
        runtime.service.credentials.resolve(actor, cid)  # valid yet: warms, mints nothing
        warmed.wait()
        go.wait()
        time.sleep(max(start_at.value - time.time(), 0))
        try:
            runtime.service.credentials.resolve(actor, cid)
        except Exception as exc:
            errors.append(exc)
            return
        with lock:
            done.append(time.time())

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    warmed.wait()
    ready.put(os.getpid())
    for worker in workers:
        worker.join()
    runtime.close()
    out.put(done if not errors else f"{len(errors)} callers failed, first: {errors[0]!r}")


def release(
    options: argparse.Namespace,
    args: tuple[str, str, str, str, str, int, int],
    expire: Callable[[], None],
) -> tuple[float, list[float]]:
    """Start ``options.processes`` replicas on ``args`` (home, database URL, the app's JSON,
    project id, connection id, threads, pool), wait until every one is warm (on the valid
    token), ``expire`` it, release them together; return the release time and when each
    caller held its token."""
    ctx = multiprocessing.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    start_at = ctx.Value("d", 0.0)
    replicas = [
        ctx.Process(target=_storm, args=(args, ready, go, start_at, out))
        for _ in range(options.processes)
    ]
    for replica in replicas:
        replica.start()
    for _ in replicas:
        ready.get(timeout=120)
    expire()
    start_at.value = time.time() + 0.2
    go.set()
    finished: list[float] = []
    for _ in replicas:
        batch = out.get(timeout=120)
        if isinstance(batch, str):
            raise RuntimeError(batch)
        finished.extend(batch)
    for replica in replicas:
        replica.join()
    return start_at.value, finished


def run(url: str, label: str, options: argparse.Namespace) -> list[object]:
    provider = serve_provider()
    state, sandbox_url = provider.state, provider.url
    home = tempfile.mkdtemp(prefix="gk-bench-")
    sandbox = sandbox_app_definition(sandbox_url)
    runtime = open_runtime(settings_for(home, url), extra_apps=[sandbox])
    service = runtime.service
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    service.oauth_clients.register(
        actor, app="sandbox", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    session = service.authorizations.start(actor, app="sandbox", name=f"bench {time.time()}")
    outcome = service.system.complete_authorization(provider.consent(session.authorize_url or ""))
    cid = outcome.connection_id or ""
    state.delay_ms = options.latency
    latency = options.latency / 1000

    def expire() -> None:
        with runtime.db.write() as conn:
            conn.execute(
                update(connections)
                .where(connections.c.id == cid)
                .values(
                    expires_at=utcnow() - timedelta(seconds=1), version=connections.c.version + 1
                )
            )

    singles, storms, requests, asked, firsts = [], [], [], [], []
    wall = time.time() - time.monotonic()
    for _ in range(options.rounds):
        expire()
        began = time.perf_counter()
        service.credentials.resolve(actor, cid)
        singles.append(time.perf_counter() - began)

        service.credentials.resolve(actor, cid)  # valid again, for the replicas' warm-up
        before = state.counts.get("token:refresh_token", 0)
        provider.token_times.clear()
        app_json = sandbox.model_dump_json()
        args = (home, url, app_json, project.id, cid, options.threads, options.pool)
        start, finished = release(options, args, expire)
        storms.append(max(finished) - start)
        firsts.append(min(finished) - start)
        asked.append(min(provider.token_times) + wall - start)
        requests.append(state.counts.get("token:refresh_token", 0) - before)
    runtime.close()

    single = statistics.median(singles)
    storm = statistics.median(storms)
    callers = options.processes * options.threads
    print(f"{label}: {callers} callers on {options.processes} processes")
    print(f"  provider latency        {options.latency:7.1f} ms")
    print(f"  single refresh median   {single * 1000:7.1f} ms")
    print(
        f"  storm (last caller) med {storm * 1000:7.1f} ms   token requests per storm: {requests}"
    )
    print(
        f"  timeline (medians): provider asked at +{statistics.median(asked) * 1000:.0f} ms, "
        f"first caller served +{statistics.median(firsts) * 1000:.0f} ms, "
        f"last +{storm * 1000:.0f} ms"
    )
    print(f"  storm - provider latency: {(storm - latency) * 1000:.0f} ms (goal <= 150 ms)")
    print(f"  storm / single: {storm / single:.2f}x")
    return [
        label,
        f"{callers} on {options.processes}",
        ", ".join(str(r) for r in requests),
        f"{single * 1000:.0f} ms",
        f"+{statistics.median(asked) * 1000:.0f} ms",
        f"{storm * 1000:.0f} ms",
        f"{(storm - latency) * 1000:.0f} ms",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--threads", type=int, default=25)
    parser.add_argument("--latency", type=int, default=200, help="provider latency in ms")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--pool", type=int, default=10, help="PostgreSQL connections per process (no overflow)"
    )
    options = parser.parse_args()
    rows = [run(url, label, options) for url, label in databases()]
    write_table(
        "refresh_storm",
        f"Refresh storm on one expired token, provider {options.latency} ms",
        [
            "database",
            "callers on processes",
            "token requests per storm",
            "single refresh",
            "provider asked",
            "storm, last caller",
            "storm - provider latency (goal ≤ 150 ms)",
        ],
        rows,
    )


if __name__ == "__main__":
    main()

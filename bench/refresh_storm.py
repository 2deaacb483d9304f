"""A refresh storm: executions on several processes ask for one expired OAuth2 token at once.

The provider (the sandbox authorization server, on its own port) answers the token request
after ``--latency`` ms. Measured side by side in one run, on SQLite and, when
``GATEKEY_BENCH_PG`` names a PostgreSQL server, on PostgreSQL (a database of its own, dropped
at the end). Each worker process warms its connection pool first, as a running server has.

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
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from gatekey.oauth.sandbox import sandbox_app_definition
from gatekey.runtime import open_runtime
from gatekey.service import Actor, utcnow
from gatekey.settings import Settings
from gatekey.store.tables import connections

sys.path.insert(0, str(Path(__file__).resolve().parent))

from provider import CLIENT_ID, CLIENT_SECRET, serve_provider
from seeding import databases

# Spawned workers import this module again: the key travels in the environment.
MASTER_KEYS = os.environ.setdefault(
    "GATEKEY_BENCH_MASTER_KEYS", "mk-bench:" + base64.b64encode(os.urandom(32)).decode()
)


def _settings(home: str, url: str, pool: int = 10) -> Settings:
    return Settings(
        home=Path(home),
        database_url=url,
        master_keys=MASTER_KEYS,
        database_pool_size=pool,
        egress_allow="127.0.0.1",  # the sandbox provider listens on loopback
    )


def _storm(args: tuple[str, str, str, str, str, int, float]) -> list[float]:
    home, url, sandbox_url, project_id, cid, threads, start = args
    runtime = open_runtime(
        _settings(home, url, threads + 5),
        extra_apps=[sandbox_app_definition(sandbox_url)],
        migrate=False,
    )
    actor = Actor.operator(project_id)
    if not runtime.db.is_sqlite:  # SQLite readers open their own per-thread connections
        warm = threading.Barrier(threads)

        def hold_a_connection() -> None:
            with runtime.db.read():
                warm.wait()

        warmers = [threading.Thread(target=hold_a_connection) for _ in range(threads)]
        for warmer in warmers:
            warmer.start()
        for warmer in warmers:
            warmer.join()
    done: list[float] = []
    lock = threading.Lock()

    errors: list[BaseException] = []

    def one() -> None:
        time.sleep(max(start - time.time(), 0))
        try:
            runtime.service.resolve_credentials(actor, cid)
        except Exception as exc:
            errors.append(exc)
            return
        with lock:
            done.append(time.time())

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    runtime.close()
    if errors:
        raise RuntimeError(f"{len(errors)} callers failed, first: {errors[0]!r}")
    return done


def run(url: str, label: str, options: argparse.Namespace) -> None:
    provider = serve_provider()
    state, sandbox_url = provider.state, provider.url
    home = tempfile.mkdtemp(prefix="gk-bench-")
    runtime = open_runtime(_settings(home, url), extra_apps=[sandbox_app_definition(sandbox_url)])
    service = runtime.service
    project, _ = service.bootstrap()
    actor = Actor.operator(project.id)
    service.register_oauth_client(
        actor, app="sandbox", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    session = service.start_authorization(actor, app="sandbox", name=f"bench {time.time()}")
    outcome = service.complete_authorization(provider.consent(session.authorize_url or ""))
    cid = outcome.connection_id or ""
    state.delay_ms = options.latency
    latency = options.latency / 1000

    def expire() -> None:
        with runtime.db.write() as conn:
            conn.execute(
                update(connections)
                .where(connections.c.id == cid)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )

    singles, storms, requests = [], [], []
    pool = multiprocessing.get_context("spawn").Pool(options.processes)
    for _ in range(options.rounds):
        expire()
        began = time.perf_counter()
        service.resolve_credentials(actor, cid)
        singles.append(time.perf_counter() - began)

        expire()
        before = state.counts.get("token:refresh_token", 0)
        start = time.time() + 3.0
        args = (home, url, sandbox_url, project.id, cid, options.threads, start)
        finished = pool.map(_storm, [args] * options.processes)
        storms.append(max(t for batch in finished for t in batch) - start)
        requests.append(state.counts.get("token:refresh_token", 0) - before)
    pool.close()
    pool.join()
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
    print(f"  storm - provider latency: {(storm - latency) * 1000:.0f} ms (goal <= 150 ms)")
    print(f"  storm / single: {storm / single:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--threads", type=int, default=25)
    parser.add_argument("--latency", type=int, default=200, help="provider latency in ms")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    for url, label in databases():
        run(url, label, options)


if __name__ == "__main__":
    main()

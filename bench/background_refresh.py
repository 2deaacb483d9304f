"""Background refresh: thousands of OAuth2 tokens expiring in the same window, one app's cap.

``--connections`` OAuth2 connections of one app (the sandbox authorization server on its own
port, answering token requests after ``--latency`` ms) hold tokens that all expire within a
``--window`` of seconds; each has a real grant at the provider. The background refresher runs
with the settings a server has (sweeps every 30 s, ``GATEKEY_REFRESH_RATE_PER_APP`` set to
``--rate``), while executions resolve random connections throughout (``--resolve-rate`` a
second) and check every token they are handed against the provider's own record of its
expiry. The app's refresh margin is 20 s (instead of the usual 5 min) to keep the run short;
the run ends after every original token has expired.

Measured at the provider: token requests, their span, the achieved rate and the most in any
one-second window; from Gatekey: refreshes made by the refresher, those made inline by
executions, and expired tokens served (must be 0). Printed last: achieved rate / cap (goal:
at least 0.9). ``GATEKEY_BENCH_PG`` adds PostgreSQL (a database of its own).

    python bench/background_refresh.py [--connections 2000] [--rate 50] [--latency 100]
"""

from __future__ import annotations

import argparse
import base64
import bisect
import dataclasses
import os
import random
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from gatekey import ids
from gatekey.catalog.schema import App
from gatekey.domain.connection import name_key
from gatekey.oauth.sandbox import sandbox_app_definition
from gatekey.runtime import background_refresher, open_runtime
from gatekey.service import Actor, utcnow
from gatekey.settings import Settings
from gatekey.store import sealed
from gatekey.store.tables import connections
from gatekey.workers.refresher import SweepResult

sys.path.insert(0, str(Path(__file__).resolve().parent))

from provider import CLIENT_ID, CLIENT_SECRET, Provider, serve_provider
from report import write_table
from seeding import databases

MARGIN = 20
INTERVAL = 30.0


def _app(url: str) -> App:
    definition = sandbox_app_definition(url).model_dump(mode="json", exclude_none=True)
    for method in definition["auth"]:
        if method.get("oauth2"):
            method["oauth2"]["refresh_margin_seconds"] = MARGIN
    return App.model_validate(definition)


def _seed(runtime: Any, provider: Provider, options: argparse.Namespace) -> tuple[str, list[str]]:
    """One connection made through the service is the template; the others get grants of
    their own at the provider and tokens expiring inside the window."""
    service = runtime.service
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    service.oauth_clients.register(
        actor, app="sandbox", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    session = service.authorizations.start(actor, app="sandbox", name="template")
    outcome = service.system.complete_authorization(provider.consent(session.authorize_url or ""))
    with runtime.db.read() as conn:
        found = conn.execute(
            select(connections).where(connections.c.id == outcome.connection_id)
        ).one()
    template = dict(found._mapping)
    secret = service.context.vault.open(project.id, found.id, sealed.sealed_of(found))
    state = provider.state
    template_grant = next(iter(state.grants.values()))
    now, epoch = utcnow(), time.time()
    lead = INTERVAL * 2 - 10  # every token falls due for the refresher in its first sweep
    made: list[str] = []
    rows: list[dict[str, Any]] = []
    for n in range(options.connections):
        cid, grant_id = ids.new_id("conn"), f"bench-grant-{n}"
        offset = MARGIN + lead + options.window * n / options.connections
        with state.lock:
            state.grants[grant_id] = dataclasses.replace(template_grant, refresh_token="")
            body = state.issue(grant_id, rotate=True)
            state.access[body["access_token"]] = (grant_id, epoch + offset)
        fresh = {**secret, "access_token": body["access_token"]}
        fresh["refresh_token"] = body["refresh_token"]
        box = service.context.vault.seal(project.id, cid, fresh)
        name = f"Sandbox {n}"
        rows.append(
            {
                **template,
                "id": cid,
                "name": name,
                "name_key": name_key(name),
                "is_default": False,
                "secret_ciphertext": box.ciphertext,
                "dek_wrapped": box.wrapped_key,
                "kek_id": box.key_id,
                "expires_at": now + timedelta(seconds=offset),
                "last_refreshed_at": now - timedelta(hours=1),
            }
        )
        made.append(cid)
    with runtime.db.write() as conn:
        conn.execute(insert(connections), rows)
    return project.id, made


def run(url: str, label: str, options: argparse.Namespace) -> list[object]:
    provider = serve_provider()
    provider.state.delay_ms = options.latency
    home = tempfile.mkdtemp(prefix="gk-bench-")
    settings = Settings(
        home=Path(home),
        database_url=url,
        master_keys="mk-bench:" + base64.b64encode(os.urandom(32)).decode(),
        egress_allow="127.0.0.1",  # the provider listens on loopback
        refresh_interval=INTERVAL,
        refresh_rate_per_app=options.rate,
        rate_resolve_per_key=0,
        rate_resolve_per_project=0,
    )
    runtime = open_runtime(settings, extra_apps=[_app(provider.url)])
    project_id, made = _seed(runtime, provider, options)
    actor = Actor.operator(project_id)
    state = provider.state
    refresher = background_refresher(runtime)
    total = SweepResult()
    stop = threading.Event()

    def sweeps() -> None:
        while not stop.is_set():
            began = time.monotonic()
            result = refresher.sweep()
            total.refreshed += result.refreshed
            total.failed += result.failed
            total.deferred += result.deferred
            stop.wait(max(INTERVAL - (time.monotonic() - began), 0))

    served, expired, errors = [0], [0], [0]

    def execute() -> None:
        pick = random.Random()
        while not stop.is_set():
            try:
                token = runtime.service.credentials.resolve(actor, pick.choice(made)).fields[
                    "access_token"
                ]
            except Exception:
                errors[0] += 1
                continue
            _, expires = state.access[token]
            served[0] += 1
            if expires <= time.time():
                expired[0] += 1
            stop.wait(options.resolvers / options.resolve_rate)

    provider.token_times.clear()
    before = state.counts.get("token:refresh_token", 0)
    started = time.monotonic()
    threads = [threading.Thread(target=sweeps)]
    threads += [threading.Thread(target=execute) for _ in range(options.resolvers)]
    for thread in threads:
        thread.start()
    end = started + MARGIN + INTERVAL * 2 - 10 + options.window + 5  # past every old expiry
    while time.monotonic() < end:
        time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join()
    runtime.close()

    times = sorted(provider.token_times)
    requests = state.counts.get("token:refresh_token", 0) - before
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    achieved = (len(times) - 1) / span
    busiest = max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))
    inline = requests - total.refreshed
    print(f"{label}: {options.connections} connections, one app, cap {options.rate:g}/s")
    print(f"  provider latency          {options.latency} ms")
    print(
        f"  token requests            {requests} "
        f"({total.refreshed} by the refresher, {inline} inline)"
    )
    print(f"  refresher failed/deferred {total.failed} / {total.deferred}")
    print(
        f"  first to last request     {span:.1f} s (first {times[0] - started:.2f} s after start)"
    )
    print(f"  achieved rate             {achieved:.1f}/s; busiest second {busiest}")
    print(f"  resolutions               {served[0]} served, {errors[0]} failed")
    print(f"  expired tokens served     {expired[0]} (goal 0)")
    ratio = achieved / options.rate
    print(f"  achieved / cap: {ratio:.2f} (goal >= 0.9)")
    return [
        label,
        f"{total.refreshed:,} / {inline:,}",
        f"{span:.1f} s",
        f"{achieved:.1f}/s",
        busiest,
        f"{expired[0]} of {served[0]:,}",
        f"{ratio:.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0, help="per-app cap, requests/s")
    parser.add_argument("--latency", type=int, default=100, help="provider latency in ms")
    parser.add_argument("--window", type=float, default=10.0, help="seconds the expiries span")
    parser.add_argument("--resolvers", type=int, default=2, help="executing threads")
    parser.add_argument("--resolve-rate", type=float, default=200.0, help="resolutions/s")
    options = parser.parse_args()
    rows = [run(url, label, options) for url, label in databases()]
    write_table(
        "background_refresh",
        f"Background refresh: {options.connections:,} tokens due together, cap {options.rate:g}/s",
        [
            "database",
            "token requests (refresher / inline)",
            "first to last",
            "achieved rate",
            "busiest second",
            "expired tokens served",
            "achieved / cap (goal ≥ 0.9)",
        ],
        rows,
    )


if __name__ == "__main__":
    main()

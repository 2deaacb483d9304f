"""Scale: 100,000 connections across 1,000 projects.

Measured side by side in one run: the Connections list of one project filtered by status and
app (the service call behind the page and ``GET /connections``), and a credential resolution
at 100,000 connections against the same resolution in a database of 1,000 (200 connections
resolved in turn in each: one in each of 200 projects, 20 in each of 10; alternating rounds,
each side first in turn, medians; the goal is a ratio of at most 1.1). Also the database size
per connection. SQLite, and PostgreSQL too with ``GATEKEY_BENCH_PG``.

    python bench/scale.py [--projects 1000] [--per-project 100] [--rounds 9]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gatekey.runtime import Runtime, open_runtime
from gatekey.service import Actor
from gatekey.settings import Settings
from report import write_table
from seeding import postgres_database, seed


def _open(url: str | None, home: Path) -> Runtime:
    settings = Settings(
        home=home,
        database_url=url or f"sqlite:///{home}/gatekey.db",
        master_keys="mk-bench:" + "A" * 43 + "=",
    )
    return open_runtime(settings)


def _targets(runtime: Runtime, project_ids: list[str], count: int) -> list[tuple[Actor, str]]:
    """``count`` distinct active connections spread evenly over as many projects as there are
    (up to ``count``): both databases are measured on working sets of the same size."""
    rng = random.Random(1)
    projects = rng.sample(project_ids, min(count, len(project_ids)))
    each = -(-count // len(projects))
    chosen = []
    for project_id in projects:
        actor = Actor.operator(project_id)
        items = runtime.service.connections.list(actor, status="active", limit=100).items
        chosen.extend((actor, item.id) for item in rng.sample(items, each))
    rng.shuffle(chosen)
    return chosen[:count]


def _resolve_round(runtime: Runtime, targets: list[tuple[Actor, str]], calls: int) -> float:
    start = time.perf_counter()
    for n in range(calls):
        actor, cid = targets[n % len(targets)]
        runtime.service.credentials.resolve(actor, cid)
    return (time.perf_counter() - start) / calls


def _list_round(runtime: Runtime, actors: list[Actor], calls: int) -> float:
    start = time.perf_counter()
    for n in range(calls):
        runtime.service.connections.list(actors[n % len(actors)], status="active", app="stripe")
    return (time.perf_counter() - start) / calls


def _settle(runtime: Runtime) -> None:
    """After the bulk load: SQLite's write-ahead log copied back into the file and emptied
    (otherwise every page a read touches is looked up in a log of the load first);
    PostgreSQL's tables vacuumed and analysed."""
    with runtime.db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if runtime.db.is_sqlite:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            conn.exec_driver_sql("VACUUM ANALYZE")


def _size(runtime: Runtime, url: str | None, home: Path) -> int:
    """Bytes of the database: the PostgreSQL database, or the SQLite files once closed."""
    if url is None:
        runtime.close()  # the last connection checkpoints the WAL into the file
        return sum(p.stat().st_size for p in home.glob("gatekey.db*"))
    with runtime.db.read() as conn:
        size = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    runtime.close()
    return size


def run(url_big: str | None, url_small: str | None, label: str, options: Any) -> list[object]:
    big_home = Path(tempfile.mkdtemp(prefix="gk-bench-scale-"))
    small_home = Path(tempfile.mkdtemp(prefix="gk-bench-scale-small-"))
    big, small = _open(url_big, big_home), _open(url_small, small_home)
    started = time.perf_counter()
    big_projects = seed(big, options.projects, options.per_project)
    small_projects = seed(small, 10, 100)
    for runtime in (big, small):  # start both from a settled file, as a running one is
        _settle(runtime)
    total = options.projects * options.per_project
    print(f"{label}: seeded {total:,} + 1,000 connections in {time.perf_counter() - started:.0f} s")
    big_targets = _targets(big, big_projects, 200)
    small_targets = _targets(small, small_projects, 200)
    actors = [a for a, _ in big_targets]
    for fn in (
        lambda: _resolve_round(big, big_targets, 500),
        lambda: _resolve_round(small, small_targets, 500),
    ):
        fn()
    big_times: list[float] = []
    small_times: list[float] = []
    for n in range(options.rounds):
        # alternate which goes first; nothing else runs between them (a listing round in
        # between left the next resolution round a cold page cache, on one side only)
        sides = [(big, big_targets, big_times), (small, small_targets, small_times)]
        for runtime, targets, times in sides if n % 2 == 0 else sides[::-1]:
            times.append(_resolve_round(runtime, targets, options.calls))
    list_times = [_list_round(big, actors, 200) for _ in range(options.rounds)]
    size = _size(big, url_big, big_home)
    small.close()
    ratio = statistics.median(big_times) / statistics.median(small_times)
    listing = statistics.median(list_times) * 1000
    print(
        f"{label}: list one project's active Stripe connections: {listing:.2f} ms median "
        f"(goal <= 15 ms: {'met' if listing <= 15 else 'NOT met'})"
    )
    print(
        f"{label}: resolution {statistics.median(big_times) * 1e6:.1f} us at {total:,} vs "
        f"{statistics.median(small_times) * 1e6:.1f} us at 1,000; database "
        f"{size / (total + 1000):,.0f} bytes per connection"
    )
    print(
        f"{label}: rounds at {total:,}: {' '.join(f'{t * 1e6:.1f}' for t in big_times)} us; "
        f"at 1,000: {' '.join(f'{t * 1e6:.1f}' for t in small_times)} us"
    )
    print(f"{label}: ratio resolution at {total:,} / at 1,000: {ratio:.2f} (goal <= 1.10)")
    return [
        label,
        f"{listing:.2f} ms",
        f"{statistics.median(big_times) * 1e6:.1f} µs",
        f"{statistics.median(small_times) * 1e6:.1f} µs",
        f"{ratio:.2f}",
        f"{size / (total + 1000):,.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--per-project", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=2000)
    options = parser.parse_args()
    rows = [run(None, None, "SQLite", options)]
    with postgres_database() as big, postgres_database() as small:
        if big is not None:
            rows.append(run(big, small, "PostgreSQL", options))
    write_table(
        "scale",
        f"Scale: {options.projects * options.per_project:,} connections, "
        f"{options.projects:,} projects",
        [
            "database",
            "list, median (goal ≤ 15 ms)",
            f"resolution at {options.projects * options.per_project:,}",
            "at 1,000",
            "ratio (goal ≤ 1.1)",
            "bytes per connection",
        ],
        rows,
    )


if __name__ == "__main__":
    main()

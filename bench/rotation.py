"""Master-key rotation: how many connections a rotation rewraps per second.

20,000 connections in 20 projects; each round rotates once (a new master key, every data key
unwrapped and wrapped again, committed in batches) and is timed end to end. Beside it, in the
same run: the bare AES-GCM unwrap + wrap of the same number of data keys in memory, the floor
a rewrap cannot go under. SQLite, and PostgreSQL too with ``GATEKEY_BENCH_PG``.

    python bench/rotation.py [--connections 20000] [--rounds 3] [--batch 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gatekey.runtime import open_runtime
from gatekey.settings import Settings
from report import write_table
from seeding import postgres_database, seed


def crypto_floor(count: int) -> float:
    """Seconds for ``count`` in-memory unwrap + wrap pairs of a 32-byte data key."""
    old, new = AESGCM(os.urandom(32)), AESGCM(os.urandom(32))
    nonce = os.urandom(12)
    wrapped = old.encrypt(nonce, os.urandom(32), b"aad")
    start = time.perf_counter()
    for _ in range(count):
        key = old.decrypt(nonce, wrapped, b"aad")
        new.encrypt(os.urandom(12), key, b"aad")
    return time.perf_counter() - start


def run(url: str | None, label: str, options: argparse.Namespace) -> list[object]:
    home = Path(tempfile.mkdtemp(prefix="gk-bench-rotation-"))
    settings = Settings(home=home, database_url=url or f"sqlite:///{home}/gatekey.db")
    runtime = open_runtime(settings)
    per_project = options.connections // 20
    seed(runtime, 20, per_project)
    total = 20 * per_project + 1
    rates, floors = [], []
    for _ in range(options.rounds):
        start = time.perf_counter()
        result = runtime.service.system.rotate_master_key(batch_size=options.batch)
        elapsed = time.perf_counter() - start
        assert result.remaining == 0 and result.done >= total
        rates.append(result.done / elapsed)
        floors.append(total / crypto_floor(total))
    runtime.close()
    rate = statistics.median(rates)
    print(
        f"{label}: {total} connections; rewrap {rate:,.0f}/s median of {options.rounds} "
        f"(rounds: {', '.join(f'{r:,.0f}' for r in rates)}); in-memory crypto floor "
        f"{statistics.median(floors):,.0f}/s; goal >= 10,000/s: "
        f"{'met' if rate >= 10_000 else 'NOT met'}"
    )
    return [
        label,
        f"{total:,}",
        f"{rate:,.0f}",
        " / ".join(f"{r:,.0f}" for r in rates),
        f"{statistics.median(floors):,.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000)
    options = parser.parse_args()
    rows = [run(None, "SQLite", options)]
    with postgres_database() as pg:
        if pg is not None:
            rows.append(run(pg, "PostgreSQL", options))
    write_table(
        "rotation",
        "Master-key rotation",
        ["database", "connections", "rewraps/s (goal ≥ 10,000)", "rounds", "crypto floor/s"],
        rows,
    )


if __name__ == "__main__":
    main()

"""Embedded credential resolution vs two floors, measured side by side in one process.

The first floor is what a resolution of a secret never seen before cannot avoid: one indexed
SELECT of the row through the raw ``sqlite3`` driver plus the AES-GCM unwrap of the data key and
the decrypt of the payload. The second is the bare SELECT alone: the floor once decrypted
secrets are cached (a resolution must still read the row, to see its status, version and
ciphertext). Gatekey's figure is ``Gatekey.resolve_credentials`` (audit entry and
``last_used_at`` queued for the group-commit writer). Rounds alternate between the three so
machine noise hits them alike; the ratios of medians are printed last.

    python bench/resolve_embedded.py [--connections 1000] [--rounds 15] [--calls 2000]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gatekey import Gatekey

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import write_table

MASTER = os.urandom(32)
MASTER_KEYS = "mk-bench:" + base64.b64encode(MASTER).decode()


def floor_reader(db_path: Path, project_id: str, connection_id: str):  # type: ignore[no-untyped-def]
    raw = sqlite3.connect(db_path, check_same_thread=False)
    raw.execute("PRAGMA journal_mode=WAL")
    query = (
        "SELECT secret_ciphertext, dek_wrapped, kek_id, status, config "
        "FROM connections WHERE id = ? AND project_id = ?"
    )

    def read() -> dict[str, object]:
        row = raw.execute(query, (connection_id, project_id)).fetchone()
        ciphertext, wrapped, kek_id = row[0], row[1], row[2]
        base = b"gatekey|v1|"
        tail = b"|" + project_id.encode() + b"|" + connection_id.encode()
        data_key = AESGCM(MASTER).decrypt(
            wrapped[1:13], wrapped[13:], base + b"dek|" + kek_id.encode() + tail
        )
        plain = AESGCM(data_key).decrypt(
            ciphertext[1:13], ciphertext[13:], base + b"payload" + tail
        )
        return json.loads(plain)  # type: ignore[no-any-return]

    return read, raw


def select_reader(
    raw: sqlite3.Connection, project_id: str, connection_id: str
) -> Callable[[], object]:
    """The same indexed SELECT as ``floor_reader``, on the same raw connection, without the
    decrypt."""
    query = (
        "SELECT secret_ciphertext, dek_wrapped, kek_id, status, config "
        "FROM connections WHERE id = ? AND project_id = ?"
    )
    params = (connection_id, project_id)

    def read() -> object:
        return raw.execute(query, params).fetchone()

    return read


def timed(fn, calls: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def measure(connections: int, rounds: int, calls: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "gatekey.db"
        gk = Gatekey(f"sqlite:///{db_path}", home=tmp, master_keys=MASTER_KEYS)
        ids = [
            gk.create_connection(
                "sendgrid",
                f"SendGrid {i}",
                {"api_key": f"SG.bench{i}.secretvalue"},
                skip_test=True,
            ).id
            for i in range(connections)
        ]
        target = ids[len(ids) // 2]
        floor, raw = floor_reader(db_path, gk.actor.project_id, target)
        bare = select_reader(raw, gk.actor.project_id, target)
        assert floor()["api_key"] == gk.resolve_credentials(target).fields["api_key"]

        def ours() -> object:
            return gk.resolve_credentials(target)

        for fn in (floor, bare, ours):
            timed(fn, calls // 4)
        floor_times, bare_times, our_times = [], [], []
        for _ in range(rounds):
            floor_times.append(timed(floor, calls))
            bare_times.append(timed(bare, calls))
            our_times.append(timed(ours, calls))
        raw.close()
        gk.close()
        size = db_path.stat().st_size if db_path.exists() else 0
    floor_median = statistics.median(floor_times)
    bare_median = statistics.median(bare_times)
    our_median = statistics.median(our_times)
    return {
        "floor_us": floor_median * 1e6,
        "select_us": bare_median * 1e6,
        "gatekey_us": our_median * 1e6,
        "ratio": our_median / floor_median,
        "select_ratio": our_median / bare_median,
        "db_bytes": float(size),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    result = measure(args.connections, args.rounds, args.calls)
    print(f"connections in the database: {args.connections}")
    print(f"floor (raw SELECT + unwrap + decrypt): {result['floor_us']:.1f} us median per call")
    print(f"bare SELECT of the same row:           {result['select_us']:.1f} us median per call")
    print(f"Gatekey.resolve_credentials:           {result['gatekey_us']:.1f} us median per call")
    print(f"ratio embedded resolution / bare SELECT: {result['select_ratio']:.2f} (goal <= 2.0)")
    print(f"ratio embedded resolution / floor: {result['ratio']:.2f} (goal <= 1.30)")
    write_table(
        "resolve_embedded",
        "Embedded credential resolution vs the floors",
        [
            "connections",
            "floor median",
            "bare SELECT median",
            "Gatekey median",
            "ratio to floor (goal ≤ 1.3)",
            "ratio to bare SELECT (goal ≤ 2.0)",
        ],
        [
            [
                f"{args.connections:,}",
                f"{result['floor_us']:.1f} µs",
                f"{result['select_us']:.1f} µs",
                f"{result['gatekey_us']:.1f} µs",
                f"{result['ratio']:.2f}x",
                f"{result['select_ratio']:.2f}x",
            ]
        ],
    )


if __name__ == "__main__":
    main()

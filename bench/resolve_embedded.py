"""Embedded credential resolution vs two floors, measured side by side in one process.

The first floor is what a resolution of a secret never seen before cannot avoid: one indexed
SELECT of the row through the raw ``sqlite3`` driver plus the AES-GCM unwrap of the data key and
the decrypt of the payload. The second is the bare SELECT alone: the floor once decrypted
secrets are cached (a resolution must still read the row, to see its status, version and
ciphertext). Gatekey's figure is ``Gatekey.resolve_credentials`` (audit entry and
``last_used_at`` queued for the group-commit writer). Rounds alternate between the three so
machine noise hits them alike; the ratios of medians are printed last.

``--compare before=TREE after=TREE`` measures two checkouts in one run: each tree gets a
process of its own (``PYTHONPATH`` on that tree's ``src``), which seeds its database and then
measures one round (the floors and Gatekey, in that process) each time it is asked; the trees
take turns round by round, first one then the other, so each tree's ratios are its own
process's and the noise of the run hits both alike.

``--kinds api_key,jwt_bearer`` also resolves a service-account connection whose minted token
is still valid (minted once at creation against the tests' PyJWT-checking token endpoint on
loopback, ``tests/fakes/minted_peers.py``) among the same API-key rows, in turns with the API
key in one run: what resolving a minted token costs beyond the floor (issue 18: the same as
any).

    python bench/resolve_embedded.py [--connections 1000] [--rounds 15] [--calls 2000]
        [--kinds api_key,jwt_bearer]
    python bench/resolve_embedded.py --compare before=/work/wt/bench-before after=.
"""

from __future__ import annotations

import argparse
import base64
import inspect
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import write_table

MASTER = os.urandom(32)
MASTER_KEYS = "mk-bench:" + base64.b64encode(MASTER).decode()
QUERY = (
    "SELECT secret_ciphertext, dek_wrapped, kek_id, status, config "
    "FROM connections WHERE id = ? AND project_id = ?"
)
FIGURES = ("floor", "bare", "gatekey")


def floor_reader(db_path: Path, project_id: str, connection_id: str):  # type: ignore[no-untyped-def]
    raw = sqlite3.connect(db_path, check_same_thread=False)
    raw.execute("PRAGMA journal_mode=WAL")

    def read() -> dict[str, object]:
        row = raw.execute(QUERY, (connection_id, project_id)).fetchone()
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
    params = (connection_id, project_id)

    def read() -> object:
        return raw.execute(QUERY, params).fetchone()

    return read


def timed(fn, calls: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def _skip_test(gatekey_class: type) -> dict[str, bool]:
    """The option that stores a connection without asking the provider, in either tree's
    spelling (``skip_test`` since issue 15, ``validate=False`` before)."""
    parameters = inspect.signature(gatekey_class.create_connection).parameters
    return {"skip_test": True} if "skip_test" in parameters else {"validate": False}


@contextmanager
def subject(
    connections: int, calls: int, kind: str = "api_key"
) -> Iterator[dict[str, Callable[[], object]]]:
    """A seeded database and the three figures' callables, warmed up."""
    from gatekey import Gatekey

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        db_path = Path(tmp) / "gatekey.db"
        if kind == "jwt_bearer":
            os.environ["GATEKEY_EGRESS_ALLOW"] = "127.0.0.1"  # the token endpoint on loopback
        gk = Gatekey(f"sqlite:///{db_path}", home=tmp, master_keys=MASTER_KEYS)
        skip = _skip_test(Gatekey)
        ids = [
            gk.create_connection(
                "sendgrid", f"SendGrid {i}", {"api_key": f"SG.bench{i}.secretvalue"}, **skip
            ).id
            for i in range(connections)
        ]
        target, secret = ids[len(ids) // 2], "api_key"
        if kind == "jwt_bearer":
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' peers
            from tests.fakes.minted_peers import PEERS

            peer = stack.enter_context(PEERS["jwt_bearer"](0.0))
            gk.add_app(peer.app.model_dump(mode="json", exclude_defaults=True, exclude={"builtin"}))
            target, secret = peer.connect(gk.service, gk.actor), "access_token"
        floor, raw = floor_reader(db_path, gk.actor.project_id, target)
        bare = select_reader(raw, gk.actor.project_id, target)
        assert floor()[secret] == gk.resolve_credentials(target).fields[secret]

        def ours() -> object:
            return gk.resolve_credentials(target)

        figures = {"floor": floor, "bare": bare, "gatekey": ours}
        for fn in figures.values():
            timed(fn, calls // 4)
        try:
            yield figures
        finally:
            raw.close()
            gk.close()


def one_round(figures: dict[str, Callable[[], object]], calls: int) -> dict[str, float]:
    return {name: timed(figures[name], calls) for name in FIGURES}


def summary(rounds: list[dict[str, float]]) -> dict[str, float]:
    medians = {name: statistics.median(r[name] for r in rounds) for name in FIGURES}
    return {
        "floor_us": medians["floor"] * 1e6,
        "select_us": medians["bare"] * 1e6,
        "gatekey_us": medians["gatekey"] * 1e6,
        "ratio": medians["gatekey"] / medians["floor"],
        "select_ratio": medians["gatekey"] / medians["bare"],
    }


def child(connections: int, calls: int, kind: str) -> None:
    """``--child``: measure one round per line read on stdin, answer it as JSON."""
    with subject(connections, calls, kind) as figures:
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            if line.strip() != "round":
                break
            print(json.dumps(one_round(figures, calls)), flush=True)


def compare(trees: list[tuple[str, Path]], args: argparse.Namespace) -> dict[str, Any]:
    """Each tree in a process of its own, taking turns round by round."""
    script = Path(__file__).resolve()
    workers = {}
    for label, tree in trees:
        env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{tree}"}
        workers[label] = subprocess.Popen(
            [sys.executable, str(script), "--child", f"--connections={args.connections}",
             f"--calls={args.calls}", *([f"--kind={args.kind}"] if args.kind != "api_key" else [])],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
    try:
        for label, worker in workers.items():
            assert worker.stdout is not None
            if not json.loads(worker.stdout.readline()).get("ready"):
                raise SystemExit(f"{label} did not start")
        rounds: dict[str, list[dict[str, float]]] = {label: [] for label in workers}
        order = list(workers)
        for n in range(args.rounds):
            for label in order if n % 2 == 0 else order[::-1]:
                worker = workers[label]
                assert worker.stdin is not None and worker.stdout is not None
                worker.stdin.write("round\n")
                worker.stdin.flush()
                rounds[label].append(json.loads(worker.stdout.readline()))
    finally:
        for worker in workers.values():
            assert worker.stdin is not None
            worker.stdin.close()
        for worker in workers.values():
            worker.wait(timeout=60)
    return {label: (summary(r), r) for label, r in rounds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument(
        "--compare", nargs="+", metavar="LABEL=TREE", help="checkouts to measure side by side"
    )
    parser.add_argument(
        "--kinds",
        default="api_key",
        help="api_key, jwt_bearer, or both (api_key,jwt_bearer: measured in turns in one run)",
    )
    parser.add_argument("--kind", default="api_key", help=argparse.SUPPRESS)  # a child's
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.connections, args.calls, args.kind)
        return
    if args.compare:
        trees = [(s.split("=", 1)[0], Path(s.split("=", 1)[1]).resolve()) for s in args.compare]
        results = compare(trees, args)
    else:
        kinds = args.kinds.split(",")
        with ExitStack() as stack:
            subjects = {
                k: stack.enter_context(subject(args.connections, args.calls, k)) for k in kinds
            }
            taken: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
            for n in range(args.rounds):  # the kinds take turns, so noise hits them alike
                for k in kinds if n % 2 == 0 else kinds[::-1]:
                    taken[k].append(one_round(subjects[k], args.calls))
        results = {
            "this tree" if k == "api_key" else f"this tree, {k}": (summary(r), r)
            for k, r in taken.items()
        }
    print(f"connections in the database: {args.connections}; {args.rounds} rounds")
    for label, (result, rounds) in results.items():
        print(f"[{label}] Gatekey per round (us): "
              + " ".join(f"{r['gatekey'] * 1e6:.1f}" for r in rounds))  # fmt: skip
        print(f"[{label}] floor (raw SELECT + unwrap + decrypt): {result['floor_us']:.1f} us")
        print(f"[{label}] bare SELECT of the same row:           {result['select_us']:.1f} us")
        print(f"[{label}] Gatekey.resolve_credentials:           {result['gatekey_us']:.1f} us")
    for label, (result, _) in results.items():
        print(
            f"[{label}] ratio embedded resolution / bare SELECT: {result['select_ratio']:.2f} "
            "(goal <= 2.0)"
        )
        print(f"[{label}] ratio embedded resolution / floor: {result['ratio']:.2f} (goal <= 1.30)")
    write_table(
        "resolve_embedded",
        "Embedded credential resolution vs the floors",
        [
            "tree",
            "connections",
            "floor median",
            "bare SELECT median",
            "Gatekey median",
            "ratio to floor (goal ≤ 1.3)",
            "ratio to bare SELECT (goal ≤ 2.0)",
        ],
        [
            [
                label,
                f"{args.connections:,}",
                f"{result['floor_us']:.1f} µs",
                f"{result['select_us']:.1f} µs",
                f"{result['gatekey_us']:.1f} µs",
                f"{result['ratio']:.2f}x",
                f"{result['select_ratio']:.2f}x",
            ]
            for label, (result, _) in results.items()
        ],
    )


if __name__ == "__main__":
    main()

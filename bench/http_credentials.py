"""``POST /api/v1/connections/{id}/credentials`` vs two trivial endpoints of the same server.

Starts ``gatekey serve`` on loopback with a fresh embedded database, then drives the endpoints
with ``wrk`` (Debian package ``wrk``; the script installs nothing) at 1, 8 and 32 connections,
alternating them round by round so machine noise hits all alike. The trivial endpoints are
``GET /api/v1/me`` (same API-key check, no credential work) and ``GET /healthz`` (neither
authenticates nor reads the database: the server's own floor). Prints requests/second and
p50/p99 per endpoint and concurrency; the throughput ratios (credentials / me, credentials /
healthz) come last.

``--compare before=TREE after=TREE`` serves two checkouts in one run: one server per tree
(``PYTHONPATH`` on that tree's ``src``, each seeded by that tree's own code), measured in
turns, round by round, the other server stopped (``SIGSTOP``) meanwhile so that its
background work does not run on the measured one's cores. Each tree's ratios are of its own
server's endpoints.

    python bench/http_credentials.py [--seconds 5] [--rounds 3] [--connections 1 8 32]
    python bench/http_credentials.py --compare before=/work/wt/bench-before after=.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import write_table

LUA = """
wrk.method = "{method}"
wrk.headers["Authorization"] = "Bearer {token}"
"""
ENDPOINTS = ("credentials", "trivial", "healthz")
SEED = """
import inspect, json, sys
from gatekey import Gatekey
home, keys = sys.argv[1], sys.argv[2]
with Gatekey(home=home, master_keys=keys) as gk:
    names = inspect.signature(Gatekey.create_connection).parameters
    skip = {"skip_test": True} if "skip_test" in names else {"validate": False}
    for i in range(1000):
        gk.create_connection("sendgrid", f"SendGrid {i}", {"api_key": f"SG.b{i}.x"}, **skip)
    target = gk.list_connections(limit=1).items[0].id
    token = gk.create_api_key("bench", role="runtime").token
print(json.dumps({"target": target, "token": token}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, float]:
    threads = min(2, connections)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"wrk saw {errors.group(1)} error responses from {url}")
    return {"rps": rps, "p50": p50, "p99": p99}


class Server:
    """One ``gatekey serve`` of one tree, on its own seeded home."""

    def __init__(self, label: str, tree: Path | None, home: Path) -> None:
        self.label = label
        env = dict(os.environ)
        if tree is not None:
            env["PYTHONPATH"] = f"{tree / 'src'}{os.pathsep}{tree}"
        keys = "mk-bench:" + base64.b64encode(os.urandom(32)).decode()
        seeded = subprocess.run(
            [sys.executable, "-c", SEED, str(home), keys],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        found = json.loads(seeded.stdout.strip().splitlines()[-1])
        self.target: str = found["target"]
        self.home = home
        port = _free_port()
        env.update(
            GATEKEY_HOME=str(home),
            GATEKEY_MASTER_KEYS=keys,
            GATEKEY_LOG_LEVEL="warning",
            # the endpoints are measured, not the limits (which would answer 429 under wrk)
            GATEKEY_RATE_RESOLVE_PER_KEY="0",
            GATEKEY_RATE_RESOLVE_PER_PROJECT="0",
            GATEKEY_RATE_AUTH_FAILURES_PER_CLIENT="0",
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gatekey", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx2.get(f"{self.base}/healthz")
                break
            except httpx2.TransportError:
                time.sleep(0.1)
        post = home / "post.lua"
        post.write_text(LUA.format(method="POST", token=found["token"]))
        get = home / "get.lua"
        get.write_text(LUA.format(method="GET", token=found["token"]))
        self.targets = {
            "credentials": (f"{self.base}/api/v1/connections/{self.target}/credentials", post),
            "trivial": (f"{self.base}/api/v1/me", get),
            "healthz": (f"{self.base}/healthz", get),
        }

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        self.resume()
        self.process.terminate()
        self.process.wait(timeout=30)


@contextmanager
def servers(trees: list[tuple[str, Path | None]]) -> Iterator[list[Server]]:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        running = []
        for label, tree in trees:
            home = Path(tmp) / re.sub(r"\W", "_", label)
            home.mkdir()
            server = Server(label, tree, home)
            stack.callback(server.stop)
            running.append(server)
            server.pause()
        yield running


def measure(
    running: list[Server], levels: list[int], rounds: int, seconds: int
) -> dict[tuple[str, str, int], list[dict[str, float]]]:
    """Every (server, endpoint, concurrency), round by round; within a round the servers take
    turns (first one, then the other, swapping each round), each running all its endpoints
    while the others are stopped."""
    results: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    for connections in levels:
        for server in running:
            server.resume()
            for url, script in server.targets.values():
                run_wrk(url, script, connections, 1)
            server.pause()
        for n in range(rounds):
            for server in running if n % 2 == 0 else running[::-1]:
                server.resume()
                time.sleep(0.2)
                for name in ENDPOINTS if n % 2 == 0 else ENDPOINTS[::-1]:
                    url, script = server.targets[name]
                    results.setdefault((server.label, name, connections), []).append(
                        run_wrk(url, script, connections, seconds)
                    )
                server.pause()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--compare", nargs="+", metavar="LABEL=TREE", help="checkouts to serve side by side"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    trees: list[tuple[str, Path | None]] = (
        [(s.split("=", 1)[0], Path(s.split("=", 1)[1]).resolve()) for s in args.compare]
        if args.compare
        else [("this tree", None)]
    )
    with servers(trees) as running:
        results = measure(running, args.connections, args.rounds, args.seconds)
    report(results, [label for label, _ in trees], args.connections)


def report(
    results: dict[tuple[str, str, int], list[dict[str, float]]],
    labels: list[str],
    levels: list[int],
) -> None:
    print(f"{'tree':<10} {'endpoint':<12} {'conc':>4} {'req/s (rounds)':<28} "
          f"{'median':>7} {'p50 ms':>8} {'p99 ms':>8}")  # fmt: skip
    ratios = []
    table = []
    for label in labels:
        for connections in levels:
            med = {}
            for name in ENDPOINTS:
                rows = results[(label, name, connections)]
                med[name] = {
                    k: statistics.median(r[k] for r in rows) for k in ("rps", "p50", "p99")
                }
                m = med[name]
                each = " / ".join(f"{r['rps']:.0f}" for r in rows)
                print(f"{label:<10} {name:<12} {connections:>4} {each:<28} {m['rps']:>7.0f} "
                      f"{m['p50']:>8.2f} {m['p99']:>8.2f}")  # fmt: skip
            cred, triv, health = med["credentials"], med["trivial"], med["healthz"]
            ratios.append(
                (label, connections, cred["rps"] / triv["rps"], cred["rps"] / health["rps"])
            )
            table.append(
                [
                    label,
                    connections,
                    f"{cred['rps']:.0f}",
                    f"{triv['rps']:.0f}",
                    f"{health['rps']:.0f}",
                    f"{ratios[-1][2]:.2f}",
                    f"{ratios[-1][3]:.2f}",
                    f"{cred['p50']:.1f} / {cred['p99']:.1f} ms",
                    f"{triv['p50']:.1f} / {triv['p99']:.1f} ms",
                ]
            )
    for label, connections, ratio, _ in ratios:
        print(
            f"[{label}] throughput ratio credentials / trivial at {connections:>2} connections: "
            f"{ratio:.2f} (goal >= 0.70)"
        )
    for label, connections, _, ratio in ratios:
        print(
            f"[{label}] throughput ratio credentials / healthz at {connections:>2} connections: "
            f"{ratio:.2f} (goal >= 0.60 at 8)"
        )
    write_table(
        "http_credentials",
        "POST /credentials vs GET /me and GET /healthz on one server (wrk)",
        [
            "tree",
            "connections",
            "credentials req/s",
            "me req/s",
            "healthz req/s",
            "ratio to me (goal ≥ 0.7)",
            "ratio to healthz (goal ≥ 0.6 at 8)",
            "credentials p50 / p99",
            "me p50 / p99",
        ],
        table,
    )


if __name__ == "__main__":
    main()

"""``POST /api/v1/connections/{id}/credentials`` vs two trivial endpoints of the same server.

Starts ``gatekey serve`` on loopback with a fresh embedded database, then drives the endpoints
with ``wrk`` (Debian package ``wrk``; the script installs nothing) at 1, 8 and 32 connections,
alternating them round by round so machine noise hits all alike. The trivial endpoints are
``GET /api/v1/me`` (same API-key check, no credential work) and ``GET /healthz`` (neither
authenticates nor reads the database: the server's own floor). Prints requests/second and
p50/p99 per endpoint and concurrency; the throughput ratios (credentials / me, credentials /
healthz) come last.

    python bench/http_credentials.py [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2

from gatekey import Gatekey

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import write_table

LUA = """
wrk.method = "{method}"
wrk.headers["Authorization"] = "Bearer {token}"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        keys = "mk-bench:" + base64.b64encode(os.urandom(32)).decode()
        with Gatekey(home=home, master_keys=keys) as gk:
            for i in range(1000):
                gk.create_connection(
                    "sendgrid", f"SendGrid {i}", {"api_key": f"SG.b{i}.x"}, skip_test=True
                )
            target = gk.list_connections(limit=1).items[0].id
            token = gk.create_api_key("bench", role="runtime").token
        port = _free_port()
        env = {
            **os.environ,
            "GATEKEY_HOME": str(home),
            "GATEKEY_MASTER_KEYS": keys,
            "GATEKEY_LOG_LEVEL": "warning",
            # the endpoints are measured, not the limits (which would answer 429 under wrk)
            "GATEKEY_RATE_RESOLVE_PER_KEY": "0",
            "GATEKEY_RATE_RESOLVE_PER_PROJECT": "0",
            "GATEKEY_RATE_AUTH_FAILURES_PER_CLIENT": "0",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "gatekey", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                try:
                    httpx2.get(f"{base}/healthz")
                    break
                except httpx2.TransportError:
                    time.sleep(0.1)
            post = home / "post.lua"
            post.write_text(LUA.format(method="POST", token=token))
            get = home / "get.lua"
            get.write_text(LUA.format(method="GET", token=token))
            targets = {
                "credentials": (f"{base}/api/v1/connections/{target}/credentials", post),
                "trivial": (f"{base}/api/v1/me", get),
                "healthz": (f"{base}/healthz", get),
            }
            results: dict[tuple[str, int], list[dict[str, float]]] = {}
            for connections in (1, 8, 32):
                for url, script in targets.values():
                    run_wrk(url, script, connections, 1)
                for _ in range(args.rounds):
                    for name, (url, script) in targets.items():
                        results.setdefault((name, connections), []).append(
                            run_wrk(url, script, connections, args.seconds)
                        )
        finally:
            server.terminate()
            server.wait(timeout=30)
    ratios = []
    table = []
    print(f"{'endpoint':<12} {'conc':>4} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for connections in (1, 8, 32):
        med = {}
        for name in targets:
            rows = results[(name, connections)]
            med[name] = {k: statistics.median(r[k] for r in rows) for k in ("rps", "p50", "p99")}
            m = med[name]
            print(f"{name:<12} {connections:>4} {m['rps']:>9.0f} {m['p50']:>8.2f} {m['p99']:>8.2f}")
        cred, triv, health = med["credentials"], med["trivial"], med["healthz"]
        ratios.append((connections, cred["rps"] / triv["rps"], cred["rps"] / health["rps"]))
        table.append(
            [
                connections,
                f"{cred['rps']:.0f}",
                f"{triv['rps']:.0f}",
                f"{health['rps']:.0f}",
                f"{ratios[-1][1]:.2f}",
                f"{ratios[-1][2]:.2f}",
                f"{cred['p50']:.1f} / {cred['p99']:.1f} ms",
                f"{triv['p50']:.1f} / {triv['p99']:.1f} ms",
            ]
        )
    for connections, ratio, _ in ratios:
        print(
            f"throughput ratio credentials / trivial at {connections:>2} connections: "
            f"{ratio:.2f} (goal >= 0.70)"
        )
    for connections, _, ratio in ratios:
        print(
            f"throughput ratio credentials / healthz at {connections:>2} connections: "
            f"{ratio:.2f} (goal >= 0.60 at 8)"
        )
    write_table(
        "http_credentials",
        "POST /credentials vs GET /me and GET /healthz on one server (wrk)",
        [
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

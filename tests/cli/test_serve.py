"""``gatekey serve``: what it records for the other commands on its home (the demo, its public
URL), and a port in use refused before anything starts. ``gatekey worker``: one pass on
request, and as a process the same logging as ``serve`` (redacted, JSON when asked) and a clean
stop on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import select
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.fakes.cli import run, serving

CANARY = "CANARYworkerlog7731"
DONE = "canary lines logged"


@pytest.mark.slow  # a gatekey serve process
def test_commands_on_the_home_of_serve_demo_see_the_sandbox_and_its_port(
    env: Path, database_url: str
) -> None:
    with serving(env, database_url, "--demo") as server:
        code, out, err = run("apps", "list", "--search", "sandbox", "--json")
        assert code == 0, err
        assert [a["key"] for a in json.loads(out)] == ["sandbox"]
        code, out, err = run("connections", "connect", "--app", "sandbox", "--no-wait")
        assert code == 0, err
        consent = out.strip()
        assert consent.startswith(f"{server.base}/sandbox/authorize?")
        assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{server.port}%2Foauth%2Fcallback" in consent
        code, out, _ = run("signin-link", "--quiet")
        assert code == 0 and re.fullmatch(rf"{server.base}/signin/\S+", out.strip())
    code, out, _ = run("apps", "list", "--search", "sandbox", "--json")
    assert [a["key"] for a in json.loads(out)] == ["sandbox"], "durable: the server has stopped"


def test_serve_on_a_port_in_use_fails_before_anything_starts(env: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, out, err = run("serve", "--port", str(port))
    assert code == 2
    assert err.strip() == (
        f"error [invalid_input]: cannot listen on 127.0.0.1:{port}: something else already "
        "listens there (another 'gatekey serve'?); stop it or pick another --port"
    )
    assert "serving on" not in out + err
    assert not env.exists() or not list(env.iterdir()), "no key, no database, no record"


def test_worker_sweeps_once(env: Path) -> None:
    code, out, err = run("worker", "--once")
    assert code == 0, err
    assert "refreshed 0, failed 0" in out
    assert "kept 0 idle credential(s) alive" in out


def _site_with_canary(tmp_path: Path) -> Path:
    """A ``sitecustomize`` that, once the process has installed its log handler (or after
    20 s without one), logs a line and a traceback each carrying ``CANARY`` in a credential's
    shape, as a provider's answer or a failing step could."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        textwrap.dedent(
            f"""
            import logging, threading, time

            def _log():
                root = logging.getLogger()
                deadline = time.monotonic() + 20
                while not root.handlers and time.monotonic() < deadline:
                    time.sleep(0.02)
                log = logging.getLogger("gatekey.workers.canary")
                log.warning("the provider answered access_token={CANARY}")
                try:
                    raise RuntimeError("Authorization: Bearer {CANARY}")
                except RuntimeError:
                    log.exception("a step failed")
                log.warning("{DONE}")

            threading.Thread(target=_log, daemon=True).start()
            """
        )
    )
    return site


def _worker(
    tmp_path: Path, database_url: str, log_format: str, level: str = "INFO"
) -> tuple[int, list[str]]:
    """Run ``python -m gatekey worker`` until its canary lines are out, stop it with SIGTERM;
    return its exit status and everything it wrote to stderr."""
    environ = {
        **os.environ,
        "GATEKEY_HOME": str(tmp_path / "home"),
        "GATEKEY_DATABASE_URL": database_url,
        "GATEKEY_LOG_FORMAT": log_format,
        "GATEKEY_LOG_LEVEL": level,
        "PYTHONPATH": os.pathsep.join(
            [str(_site_with_canary(tmp_path)), os.environ.get("PYTHONPATH", "")]
        ),
    }
    environ.pop("GATEKEY_MASTER_KEYS", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "gatekey", "worker"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    printed = b""
    deadline = time.monotonic() + 60  # a hang guard only
    try:
        while time.monotonic() < deadline and not (
            DONE.encode() in printed and b"executing runs" in printed
        ):
            ready, _, _ = select.select([process.stderr], [], [], 1)
            if ready:
                chunk = os.read(process.stderr.fileno(), 65536)
                if not chunk:
                    break
                printed += chunk
        process.terminate()
        status = process.wait(timeout=60)
        printed += process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()
    text = printed.decode(errors="replace")
    assert DONE in text and "executing runs" in text, text
    return status, text.splitlines()


OWN_LINES = ("Created master key file ", "Created project 'default'", "  gk_", "executing runs ")
"""What the command itself prints for a person (not log records)."""


def test_worker_logs_json_lines_redacted_and_stops_on_sigterm(
    tmp_path: Path, database_url: str
) -> None:
    status, lines = _worker(tmp_path, database_url, "json", "DEBUG")
    assert status == 0, "SIGTERM stops the loops and closes the runtime: a clean exit"
    assert not [line for line in lines if CANARY in line]
    records = []
    for line in lines:
        if line.startswith(OWN_LINES):
            continue
        record = json.loads(line)  # every other line is one JSON object
        assert {"time", "level", "logger", "message"} <= record.keys(), line
        records.append(record)
    canary = [r for r in records if r["logger"] == "gatekey.workers.canary"]
    assert [r["message"] for r in canary] == [
        "the provider answered access_token=[redacted]",
        "a step failed",
        DONE,
    ]
    assert "RuntimeError: Authorization: [redacted] [redacted]" in canary[1]["exception"]
    assert "RuntimeError" in canary[1]["exception"]
    assert any(r["logger"] == "alembic.runtime.migration" for r in records), "its own, at DEBUG"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_worker_logs_text_lines_redacted(tmp_path: Path, database_url: str) -> None:
    status, lines = _worker(tmp_path, database_url, "text")
    assert status == 0
    assert not [line for line in lines if CANARY in line]
    said = [line for line in lines if " gatekey.workers.canary: " in line]
    assert [line.split(" WARNING ", 1)[-1].split(" ERROR ", 1)[-1] for line in said] == [
        "gatekey.workers.canary: the provider answered access_token=[redacted]",
        "gatekey.workers.canary: a step failed",
        f"gatekey.workers.canary: {DONE}",
    ]
    assert "RuntimeError: Authorization: [redacted] [redacted]" in lines, "traceback redacted"
    assert not [line for line in lines if "alembic" in line], "no migration lines at INFO"
    key = lines.index("Created project 'default' and its admin API key (shown once):")
    assert lines[key + 1].startswith("  gk_") and lines[key + 2].startswith("executing runs ")

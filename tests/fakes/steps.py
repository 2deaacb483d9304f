"""python steps the suite registers (``tests/fakes/step_setup.py``).

They run in the step child, possibly under another interpreter and as ``nobody``: standard
library only, nothing of Gatekey or of the test suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any


def echo_auth(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    """Sees the connection's fields and the earlier steps' outputs."""
    return {
        "key": auths["sendgrid"]["api_key"],
        "who": run_input["who"],
        "scopes": steps["scopes"]["body"]["scopes"],
    }


def sandbox_token(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    return {"token_tail": auths["sandbox"]["access_token"][-6:]}


def leak_token(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    return {"token": auths["sandbox"]["access_token"]}


def odd_values(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    """Returns what JSON in PostgreSQL cannot hold: a NUL character, NaN and infinities."""
    print("printed\x00nul")
    return {"text": "a\x00b", "nan": float("nan"), "inf": float("inf"), "k\x00": [-float("inf")]}


def good(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    return {"ok": True, "apps": sorted(auths)}


def _read(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return "read:" + handle.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"refused:{type(exc).__name__}"


def snoop(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    """What the probe tried: the key file, the environments, and printing the credential."""
    for fields in auths.values():
        for value in fields.values():
            print("credential:", value)
            print("credential on stderr:", value, file=sys.stderr)
    return {
        "paths": {path: _read(path) for path in run_input["paths"]},
        "gatekey_env": sorted(k for k in os.environ if k.startswith("GATEKEY")),
        "env": sorted(os.environ),
        "self_environ": _read("/proc/self/environ"),
        "parent_environ": _read(f"/proc/{os.getppid()}/environ"),
        "cwd": os.getcwd(),
        "uid": os.getuid(),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    }


def everyday(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    """What an ordinary step does, confined or not: resolve a name, load the CA store for TLS,
    write and read back a scratch file, run a program, call a local HTTP server."""
    import socket
    import ssl
    import tempfile
    import urllib.request

    with tempfile.NamedTemporaryFile("w+", suffix=".txt") as scratch:
        scratch.write("scratch")
        scratch.flush()
        scratch.seek(0)
        written = scratch.read()
    body = ""
    if run_input.get("url"):
        with urllib.request.urlopen(run_input["url"], timeout=5) as answer:  # noqa: S310 - a test URL
            body = answer.read().decode()
    return {
        "resolved": sorted({a[4][0] for a in socket.getaddrinfo("localhost", 80)}),
        "ca_certificates": ssl.create_default_context().cert_store_stats()["x509_ca"],
        "scratch": written,
        "program": subprocess.run(["true"], check=False).returncode,
        "body": body,
    }


def sleepy(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    """Start a grandchild, say both pids, and sleep past any limit."""
    child = subprocess.Popen(["sleep", "600"])
    print(f"pids {os.getpid()} {child.pid}", flush=True)
    time.sleep(600)
    return None


def hog(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    """Allocate until the memory limit stops it."""
    print(f"pids {os.getpid()}", flush=True)
    chunks = []
    while True:
        chunks.append(bytearray(16 * 1024 * 1024))


def exits(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    raise SystemExit(3)


def interrupts(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    raise KeyboardInterrupt


def hard_exit(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    os._exit(7)


def raises(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    raise ValueError(f"bad input {run_input.get('who')!r}")


def daemon(run_input: dict[str, Any], auths: dict[str, Any], steps: dict[str, Any]) -> Any:
    """Detach a process as ``pty:spawn`` or a daemon would (own session, double fork), return."""
    detach = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    print('grandchild', os.getpid(), flush=True)\n"
        "time.sleep(600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", detach], start_new_session=True)
    time.sleep(0.5)
    print(f"pids {child.pid}", flush=True)
    if run_input.get("then") == "sleep":
        time.sleep(600)
    return {"detached": child.pid}

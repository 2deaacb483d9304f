"""Run ``gatekey`` commands in-process, as a person would type them, and ``gatekey serve`` as
a process of its own."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from gatekey.cli import app
from tests.fakes.servers import free_port

runner = CliRunner(env={"COLUMNS": "200"})


def run(*args: str) -> tuple[int, str, str]:
    """Run one command; return its exit status, standard output and standard error."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def create_connection(app: str, name: str, field: str) -> None:
    """Store a connection without asking the provider (``--skip-test``)."""
    code, _, err = run(
        "connections", "create", "--app", app, "--name", name, "-f", field, "--skip-test"
    )
    assert code == 0, err


@dataclass(frozen=True)
class Serving:
    """A running ``gatekey serve``: where it listens and what it printed up to serving."""

    base: str
    port: int
    lines: list[str]


def on_terminal(
    environ: dict[str, str], *args: str, answers: list[tuple[str, str]]
) -> tuple[int, str]:
    """Run ``python -m gatekey *args`` on a pseudo-terminal of its own (its controlling one,
    which hidden prompts read), typing each answer once its prompt waits for it; return the
    exit status and all it printed."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "gatekey", *args],
        env={**environ, "NO_COLOR": "1"},
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(secondary)
    printed = b""
    pending = list(answers)
    deadline = time.monotonic() + 60  # hang guard only
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 1)
            if ready:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:  # the process has exited and closed the terminal
                    break
                if not chunk:
                    break
                printed += chunk
            line = printed.rsplit(b"\n", 1)[-1]
            # click prints a prompt's final space once it reads (a hidden one: once echo is off)
            if pending and pending[0][0].encode() in line and line.endswith(b": "):
                os.write(primary, pending.pop(0)[1].encode() + b"\n")
        status = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)
    return status, printed.decode(errors="replace").replace("\r\n", "\n")


def serve_environ(home: Path, database_url: str) -> dict[str, str]:
    """The environment of a ``gatekey serve`` process on ``home`` (JSON logs, every level)."""
    environ = {
        **os.environ,
        "GATEKEY_HOME": str(home),
        "GATEKEY_DATABASE_URL": database_url,
        "GATEKEY_LOG_FORMAT": "json",
        "GATEKEY_LOG_LEVEL": "DEBUG",
    }
    environ.pop("GATEKEY_MASTER_KEYS", None)
    return environ


@contextmanager
def serving(
    home: Path, database_url: str, *options: str, terminal: bool = False
) -> Iterator[Serving]:
    """``gatekey serve --port N *options`` with its output on a pseudo-terminal or a pipe (a
    log collector), until the context ends."""
    port = free_port()
    command = [sys.executable, "-m", "gatekey", "serve", "--port", str(port), *options]
    environ = serve_environ(home, database_url)
    if terminal:
        primary, secondary = pty.openpty()
        process = subprocess.Popen(command, env=environ, stdout=secondary, stderr=secondary)
        os.close(secondary)
        read = primary
    else:
        process = subprocess.Popen(
            command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert process.stdout is not None
        read = process.stdout.fileno()
    printed = b""
    deadline = time.monotonic() + 60  # hang guard only
    try:
        while time.monotonic() < deadline and b"Application startup complete" not in printed:
            ready, _, _ = select.select([read], [], [], 1)
            if ready:
                chunk = os.read(read, 65536)
                if not chunk:
                    break
                printed += chunk
        assert b"Application startup complete" in printed, printed.decode(errors="replace")
        lines = printed.decode().replace("\r\n", "\n").splitlines()
        yield Serving(f"http://127.0.0.1:{port}", port, lines)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if terminal:
            os.close(read)
        elif process.stdout is not None:
            process.stdout.close()

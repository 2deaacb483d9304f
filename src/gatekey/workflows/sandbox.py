"""Run a registered python step outside the server: a child process with nothing of Gatekey's.

The child (``step_host.py``) gets an environment built from an allow-list (no ``GATEKEY_*``, no
database URL, no key), a fresh temporary working directory, no inherited descriptor but its
own three and the result pipe, a session and process group of its own (killed whole when the
step ends or runs out of time, so nothing it started lingers or holds a socket), an address
space and CPU limit, and, when Gatekey runs as root, an unprivileged user (``nobody`` unless
``GATEKEY_STEP_USER`` says otherwise), so the 0600 key file, ``GATEKEY_HOME`` and the server's
``/proc/<pid>`` are out of its reach. It receives only the step's resolved ``auths`` and returns
JSON on a pipe of its own; what it prints is captured (capped) for the run, never logged.

On Linux the child also confines itself with Landlock before it imports the step: it may read
the interpreter, the system libraries and its ``sys.path`` (the step's package), and write only
its working directory. When the step runs as Gatekey's own user (Gatekey is not root), that
confinement is what keeps ``GATEKEY_HOME`` out of reach, so it is required: where it cannot be
applied (no Landlock, or Gatekey's home inside the step's python path) the step fails with
``step_sandbox_failed`` rather than run, unless the operator sets ``GATEKEY_STEP_UNCONFINED``.

The server makes itself non-dumpable (Linux ``PR_SET_DUMPABLE``), so a child running as the
same user cannot read its memory or ``/proc/<pid>/environ`` either.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import pwd
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatekey.errors import (
    InvalidInput,
    StepExited,
    StepFailed,
    StepOutOfMemory,
    StepSandboxFailed,
    StepTimedOut,
)
from gatekey.workflows import step_host

HOST = Path(__file__).with_name("step_host.py")
_HOST_SOURCE = HOST.read_bytes()
MAX_RESULT = 1024 * 1024
MAX_CAPTURE = 128 * 1024
"""Bytes of output kept: twice what a run step records, so masking sees whole secrets."""
PASS_ENV = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TZ",
    "PYTHONPATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)
_PR_SET_DUMPABLE = 4
_GRACE = 1.0


def make_undumpable() -> bool:
    """Make this process non-dumpable (Linux): a same-user process can no longer read its
    ``/proc/<pid>/environ``, ``mem`` or ``fd``, nor attach to it. Return whether it took."""
    if not sys.platform.startswith("linux"):
        return False
    return int(_libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True, slots=True)
class StepResult:
    """What a step returned (JSON data) and what it printed (raw, not yet masked)."""

    output: Any
    logs: str


@dataclass(frozen=True, slots=True)
class _Exchange:
    result: bytes
    logs: bytes
    dropped: int
    timed_out: bool
    status: int


def step_user(name: str | None) -> tuple[int, int] | None:
    """The (uid, gid) steps run as: ``name``, or ``nobody`` when this process is root."""
    if name is None:
        if os.geteuid() != 0:
            return None
        name = "nobody"
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, ValueError):
        raise InvalidInput(f"GATEKEY_STEP_USER: there is no user {name!r}") from None
    if entry.pw_uid == 0:
        raise InvalidInput("GATEKEY_STEP_USER: python steps never run as root")
    if entry.pw_uid == os.geteuid():
        return None
    if os.geteuid() != 0:
        raise InvalidInput(
            f"GATEKEY_STEP_USER: only a Gatekey running as root can run steps as {name!r}"
        )
    return entry.pw_uid, entry.pw_gid


class StepSandbox:
    """Start one child per step execution, with the limits given here."""

    def __init__(
        self,
        *,
        timeout: float = 60.0,
        memory_mb: int = 512,
        user: str | None = None,
        python: str | None = None,
        private: Sequence[Path] = (),
        allow_unconfined: bool = False,
    ) -> None:
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.python = python or sys.executable
        self.user_name = user or ("nobody" if os.geteuid() == 0 else None)
        self._user = step_user(user)
        self.private = tuple(str(p) for p in private)
        # Another user is kept out of Gatekey's 0600 files by their modes; Gatekey's own user is
        # kept out only by Landlock, so for it confinement is a condition of running at all.
        self.confinement = (
            "required" if self._user is None and not allow_unconfined else "best-effort"
        )

    def __repr__(self) -> str:
        return (
            f"StepSandbox(timeout={self.timeout:g}, memory_mb={self.memory_mb}, "
            f"user={self.user_name!r}, python={self.python!r}, confinement={self.confinement!r})"
        )

    def run(self, step_id: str, target: str, run_input: Any, auths: Any, steps: Any) -> StepResult:
        """Call ``target`` in a child; raise a ``StepFailed`` (with ``logs``) if it fails."""
        make_undumpable()
        request = json.dumps(
            {
                "target": target,
                "input": run_input,
                "auths": auths,
                "steps": steps,
                "memory_mb": self.memory_mb,
                "cpu_seconds": max(1, int(self.timeout + 0.999)),
                "confinement": self.confinement,
                "private": self.private,
            },
            default=str,
        ).encode()
        with tempfile.TemporaryDirectory(
            prefix="gatekey-step-", ignore_cleanup_errors=True
        ) as work:
            # The host runs from a copy in the step's own folder: the step user needs no access
            # to Gatekey's installation (only to the interpreter and the step's package).
            host = Path(work) / HOST.name
            host.write_bytes(_HOST_SOURCE)
            if self._user is not None:
                os.chown(work, *self._user)
                os.chown(host, *self._user)
            exchange = self._spawn(step_id, work, str(host), request)
        return self._outcome(step_id, target, exchange)

    def _environment(self, work: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in PASS_ENV and not k.startswith("GATEKEY")}
        env.update(
            HOME=work,
            TMPDIR=work,
            PYTHONIOENCODING="utf-8",
            PYTHONDONTWRITEBYTECODE="1",
        )
        return env

    def _spawn(self, step_id: str, work: str, host: str, request: bytes) -> _Exchange:
        result_read, result_write = os.pipe()
        uid, gid = self._user if self._user is not None else (None, None)
        try:
            process = subprocess.Popen(
                [self.python, "-u", "-B", host, str(result_write)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=work,
                env=self._environment(work),
                pass_fds=(result_write,),
                start_new_session=True,
                user=uid,
                group=gid,
                extra_groups=[] if uid is not None else None,
                umask=0o077,
            )
        except OSError as exc:
            os.close(result_read)
            raise StepSandboxFailed(
                f"step {step_id}: could not start {self.python} as user "
                f"{self.user_name or os.geteuid()} ({exc.strerror}); set GATEKEY_STEP_PYTHON "
                "to an interpreter that user can run"
            ) from None
        finally:
            os.close(result_write)
        try:
            result, logs, dropped, timed_out = self._exchange(process, result_read, request)
        finally:
            _kill_group(process.pid)  # not reaped yet, so the group id cannot be anyone else's
            process.wait()
            os.close(result_read)
            for stream in (process.stdin, process.stdout):
                if stream is not None and not stream.closed:
                    stream.close()
        return _Exchange(result, logs, dropped, timed_out, process.returncode)

    def _exchange(
        self, process: subprocess.Popen[bytes], result_fd: int, request: bytes
    ) -> tuple[bytes, bytes, int, bool]:
        """Feed the request, collect output and result, until the child exits or time is up."""
        assert process.stdin is not None and process.stdout is not None
        deadline = time.monotonic() + self.timeout
        selector = selectors.DefaultSelector()
        stdin_fd, out_fd = process.stdin.fileno(), process.stdout.fileno()
        for fd in (stdin_fd, out_fd, result_fd):
            os.set_blocking(fd, False)
        selector.register(stdin_fd, selectors.EVENT_WRITE)
        selector.register(out_fd, selectors.EVENT_READ)
        selector.register(result_fd, selectors.EVENT_READ)
        pending = memoryview(request)
        logs, result = bytearray(), bytearray()
        dropped = 0
        timed_out = False
        stop_at: float | None = None
        try:
            while True:
                now = time.monotonic()
                if stop_at is None:
                    if _has_exited(process.pid):
                        _kill_group(process.pid)  # before it is reaped: the group id is still ours
                        stop_at = now + _GRACE
                    elif now >= deadline:
                        timed_out = True
                        _kill_tree(process.pid)
                        stop_at = now + _GRACE
                if stop_at is not None and (now >= stop_at or not selector.get_map()):
                    break
                if not selector.get_map():
                    time.sleep(0.005)
                    continue
                for key, _ in selector.select(timeout=0.05):
                    fd = key.fd
                    if fd == stdin_fd:
                        try:
                            pending = pending[os.write(fd, pending[: 64 * 1024]) :]
                        except BrokenPipeError:
                            pending = pending[:0]
                        if not pending:
                            selector.unregister(fd)
                            process.stdin.close()
                        continue
                    chunk = os.read(fd, 64 * 1024)
                    if not chunk:
                        selector.unregister(fd)
                    elif fd == out_fd:
                        room = MAX_CAPTURE - len(logs)
                        logs += chunk[:room]
                        dropped += max(0, len(chunk) - room)
                    elif len(result) <= MAX_RESULT:
                        result += chunk
        finally:
            selector.close()
        return bytes(result), bytes(logs), dropped, timed_out

    def _outcome(self, step_id: str, target: str, done: _Exchange) -> StepResult:
        logs = done.logs.decode("utf-8", "replace")
        if done.dropped:
            logs += f"\n[{done.dropped} more bytes of output were not kept]"
        if done.timed_out:
            raise StepTimedOut(
                f"step {step_id} ran longer than {self.timeout:g} s and was stopped", logs=logs
            )
        if done.status == -signal.SIGXCPU:
            raise StepTimedOut(
                f"step {step_id} used more than {self.timeout:g} s of CPU and was stopped",
                logs=logs,
            )
        if len(done.result) > MAX_RESULT:
            raise StepFailed(f"step {step_id} returned more than 1 MiB of output", logs=logs)
        try:
            answer = json.loads(done.result) if done.result else None
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise StepExited(
                f"step {step_id} exited without a result ({_status_text(done.status)})",
                logs=logs,
            )
        if answer.get("ok") is True:
            return StepResult(answer.get("output"), logs)
        raise _failure(step_id, target, answer, self.memory_mb, logs)


def _failure(
    step_id: str, target: str, answer: dict[str, Any], memory_mb: int, logs: str
) -> StepFailed:
    kind, phase = answer.get("kind"), answer.get("phase")
    raised = f"{answer.get('type')}: {answer.get('message')}"
    doing = f"importing {target}" if phase == "import" else f"step {step_id}"
    if kind == "memory":
        return StepOutOfMemory(
            f"step {step_id} ran out of memory (the limit is {memory_mb} MB)", logs=logs
        )
    if kind == "exit":
        return StepExited(f"{doing} tried to exit ({raised}); the run stops here", logs=logs)
    if kind == "unconfined":
        return StepSandboxFailed(
            f"step {step_id} was not run: it would run as Gatekey's own user and could not be "
            f"confined ({answer.get('message')}); run Gatekey as root (steps then run as "
            "nobody), on Linux with Landlock, or set GATEKEY_STEP_UNCONFINED=true to run steps "
            "that can read what Gatekey's user can read",
            logs=logs,
        )
    if kind == "not_callable":
        return StepFailed(f"step {step_id}: {target} is not callable", logs=logs)
    if kind == "output":
        return StepFailed(f"step {step_id} returned a value that is not JSON ({raised})", logs=logs)
    return StepFailed(f"{doing} raised {raised}", logs=logs)


def _status_text(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"


def _has_exited(pid: int) -> bool:
    """Whether the child has exited, without reaping it (its pid and group id stay reserved)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_tree(pid: int) -> None:
    """Kill a live child with all its descendants: those still in its process group, and
    those that left it (``setsid``), which stay below the child as it is their subreaper."""
    for _ in range(50):
        left = _descendants(pid)
        if not left:
            break
        for descendant in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(descendant, signal.SIGKILL)
    _kill_group(pid)


def _descendants(root: int) -> list[int]:
    found, pending = [], [root]
    while pending:
        children = step_host.children_of(pending.pop())
        found += children
        pending += children
    return found


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)

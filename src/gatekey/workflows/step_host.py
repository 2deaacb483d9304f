"""The child process a python step runs in: ``python -u -B step_host.py <result-fd>``.

``gatekey.workflows.sandbox`` starts it, from a copy of this file in the step's fresh temporary
working directory, with a scrubbed environment, a session of its own and, when Gatekey runs as
root, an unprivileged user. It reads one JSON request from stdin (the registered
``module:function``, the run input, the step's ``auths``, the earlier steps' outputs and the
limits), sets its resource limits, imports the step and calls it, stops whatever the step
left running, and writes one JSON result to the result descriptor. Whatever the step prints
goes to stdout and stderr, which the parent captures and masks.

Standard library only, and nothing of Gatekey: it runs under whatever interpreter the operator
chose for steps, with no access to Gatekey's keys or settings.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import resource
import signal
import sys
import time
import traceback
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
MESSAGE_LIMIT = 2000
_PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> None:
    """Linux: what the step starts stays this process's descendant even when it detaches
    (``setsid``, a double fork), so it can be found and stopped (``_stop_descendants``)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux ``/proc``; empty elsewhere)."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    fields = handle.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _stop_descendants() -> None:
    """Kill and reap everything the step left running, orphans included."""
    me = os.getpid()
    for _ in range(200):
        left = children_of(me)
        if not left:
            return
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        reaped = False
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            reaped = True
        if not reaped:
            time.sleep(0.005)


def _limit(memory_mb: int, cpu_seconds: int) -> None:
    """Cap the address space, CPU time, core dumps and file sizes before any step code runs."""
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    files = 64 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (files, files))


def _detach_stdin() -> None:
    """The request has been read: the step gets an empty stdin."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def _failure(kind: str, exc: BaseException, phase: str) -> dict[str, Any]:
    return {
        "ok": False,
        "kind": kind,
        "phase": phase,
        "type": type(exc).__name__,
        "message": str(exc)[:MESSAGE_LIMIT],
    }


def _kind(exc: BaseException) -> str:
    if isinstance(exc, SystemExit | KeyboardInterrupt):
        return "exit"
    return "raised"


def _call(request: dict[str, Any]) -> dict[str, Any]:
    """Import and call the step; every exception, ``BaseException`` included, is a result."""
    out_of_memory = False
    phase = "import"
    try:
        module_name, _, attribute = request["target"].partition(":")
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
        if not callable(target):
            return {"ok": False, "kind": "not_callable", "phase": phase}
        phase = "call"
        value = target(request["input"], request["auths"], request["steps"])
        phase = "output"
        return {"ok": True, "output": json.loads(json.dumps(value, default=str))}
    except MemoryError:
        out_of_memory = True  # answered below, once the failed allocation's frames are gone
    except BaseException as exc:
        traceback.print_exc()
        kind = "output" if phase == "output" else _kind(exc)
        return _failure(kind, exc, phase)
    assert out_of_memory
    return {"ok": False, "kind": "memory", "phase": phase}


def main(argv: list[str]) -> None:
    # Run as a script, this file's folder heads sys.path; a step module must not resolve there.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
    result_fd = int(argv[1])
    os.set_inheritable(result_fd, False)
    request = json.loads(sys.stdin.buffer.read())
    _detach_stdin()
    _become_subreaper()
    _limit(int(request["memory_mb"]), int(request["cpu_seconds"]))
    result = _call(request)
    del request
    _stop_descendants()
    data = json.dumps(result).encode()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # the step closed it
            stream.flush()
    view = memoryview(data)
    while view:
        view = view[os.write(result_fd, view) :]
    os.close(result_fd)
    # No atexit handlers, no waiting for threads the step left behind.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)

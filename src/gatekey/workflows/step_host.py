"""The child process a python step runs in: ``python -u -B step_host.py <result-fd>``.

``gatekey.workflows.sandbox`` starts it with a scrubbed environment, a fresh temporary working
directory, a session of its own and, when Gatekey runs as root, an unprivileged user. It reads
one JSON request from stdin (the registered ``module:function``, the run input, the step's
``auths``, the earlier steps' outputs and the limits), sets its resource limits, imports the
step and calls it, and writes one JSON result to the result descriptor. Whatever the step
prints goes to stdout and stderr, which the parent captures and masks.

Standard library only, and nothing of Gatekey: it runs under whatever interpreter the operator
chose for steps, with no access to Gatekey's keys or settings.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# Run as a script, this file's folder heads sys.path; a step module must not resolve there.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]

import contextlib  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import traceback  # noqa: E402
from typing import Any  # noqa: E402

MESSAGE_LIMIT = 2000


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
    result_fd = int(argv[1])
    os.set_inheritable(result_fd, False)
    request = json.loads(sys.stdin.buffer.read())
    _detach_stdin()
    _limit(int(request["memory_mb"]), int(request["cpu_seconds"]))
    result = _call(request)
    del request
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

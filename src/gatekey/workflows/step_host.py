"""The child process a python step runs in: ``python -u -B step_host.py <result-fd>``.

``gatekey.workflows.sandbox`` starts it, from a copy of this file in the step's fresh temporary
working directory, with a scrubbed environment, a session of its own and, when Gatekey runs as
root, an unprivileged user. It reads one JSON request from stdin (the registered
``module:function``, the run input, the step's ``auths``, the earlier steps' outputs and the
limits), sets its resource limits, confines itself with Landlock, imports the step and calls
it, stops whatever the step left running, and writes one JSON result to the result descriptor.
Whatever the step prints goes to stdout and stderr, which the parent captures and masks.

Standard library only, and nothing of Gatekey: it runs under whatever interpreter the operator
chose for steps, with no access to Gatekey's keys or settings. That is also why Landlock is
reached through ``ctypes`` (three system calls, ``landlock(7)``) rather than a binding from
PyPI: the step's interpreter cannot be assumed to have anything installed.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import platform
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


# landlock(7): the system calls have these numbers on every architecture listed (they came after
# the tables were unified); elsewhere confinement reports itself unavailable.
_LANDLOCK_CALLS = (444, 445, 446)  # create_ruleset, add_rule, restrict_self
_LANDLOCK_MACHINES = {"x86_64", "aarch64", "arm64", "riscv64", "ppc64le", "s390x", "armv7l"}
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 14, 1 << 15
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
"""Every filesystem right each ABI knows (v1: execute .. make_sym; v2 refer; v3 truncate; v5
ioctl_dev); all of them are handled, so whatever no rule grants is denied."""
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_READ = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
SYSTEM_READ = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/etc/ssl",
    "/etc/pki",
    "/etc/ca-certificates",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/resolv.conf",
    "/run/systemd/resolve",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/passwd",
    "/etc/group",
    "/etc/mime.types",
    "/dev/urandom",
    "/dev/random",
    "/dev/zero",
)
"""What any program needs to start, resolve names and speak TLS. ``/proc`` is readable, but
Landlock's ptrace rule keeps another domain's ``environ``, ``mem`` and ``fd`` out of reach."""
SYSTEM_WRITE = ("/dev/null", "/dev/full")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class Unconfined(Exception):
    """Landlock could not be applied (why is the message)."""


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def readable_roots(work: str) -> tuple[list[str], list[str]]:
    """The paths a confined step may read (interpreter, its libraries, every ``sys.path``
    entry: the step's own package) and the ones it may also write (its working directory)."""
    python = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    python.append(os.path.dirname(os.path.realpath(sys.executable)))
    read = [*SYSTEM_READ, *python, *(p for p in sys.path if p)]
    write = [*SYSTEM_WRITE, work]
    real = [os.path.realpath(p) for p in read]
    return list(dict.fromkeys(p for p in real if os.path.exists(p))), [
        os.path.realpath(p) for p in write
    ]


def _landlock_abi(libc: ctypes.CDLL) -> int:
    if not sys.platform.startswith("linux") or platform.machine() not in _LANDLOCK_MACHINES:
        raise Unconfined("Landlock is Linux only (and not known on this architecture)")
    abi = int(libc.syscall(_LANDLOCK_CALLS[0], None, ctypes.c_size_t(0), ctypes.c_uint32(1)))
    if abi < 1:
        error = ctypes.get_errno()
        raise Unconfined(f"this kernel offers no Landlock ({os.strerror(error)})")
    return abi


def confine(work: str, private: list[str]) -> int:
    """Allow only ``readable_roots`` from here on, for this process and all it starts, and
    (Landlock ABI 6+) no signals to, nor abstract sockets of, processes outside. Return the
    ABI used; raise ``Unconfined`` if it cannot be done, or if a ``private`` path (Gatekey's
    home, its key file, its database) lies inside what the step must be allowed to read."""
    libc = ctypes.CDLL(None, use_errno=True)
    abi = _landlock_abi(libc)
    read, write = readable_roots(work)
    for secret in (os.path.realpath(p) for p in private):
        for root in read + write:
            if _inside(secret, root):
                raise Unconfined(f"{secret} lies inside {root}, which steps must be able to read")
    handled = _FS_BY_ABI[max(k for k in _FS_BY_ABI if k <= abi)]
    scoped = (_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL) if abi >= 6 else 0
    attr = _RulesetAttr(handled, 0, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = int(libc.syscall(_LANDLOCK_CALLS[0], ctypes.byref(attr), ctypes.c_size_t(size), 0))
    if ruleset < 0:
        raise Unconfined(f"landlock_create_ruleset: {os.strerror(ctypes.get_errno())}")
    try:
        for paths, rights in ((read, _READ), (write, handled)):
            for path in paths:
                _allow(libc, ruleset, path, rights & handled)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise Unconfined(f"no_new_privs: {os.strerror(ctypes.get_errno())}")
        if libc.syscall(_LANDLOCK_CALLS[2], ruleset, ctypes.c_uint32(0)) != 0:
            raise Unconfined(f"landlock_restrict_self: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(ruleset)
    return abi


def _allow(libc: ctypes.CDLL, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # gone since it was listed
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneathAttr(rights, fd)
        added = libc.syscall(
            _LANDLOCK_CALLS[1], ruleset, _LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0
        )
        if added != 0:
            raise Unconfined(f"landlock_add_rule {path}: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)


def _confine_as_asked(request: dict[str, Any]) -> dict[str, Any] | None:
    """Apply Landlock; a failure is the step's result when confinement is required."""
    required = request.get("confinement") == "required"
    try:
        # Best effort (the step runs as another user, whom file modes already keep out): a
        # private path inside a readable root does not stop the rest from being confined.
        confine(os.getcwd(), list(request.get("private", ())) if required else [])
    except Unconfined as exc:
        if required:
            return {"ok": False, "kind": "unconfined", "phase": "confine", "message": str(exc)}
    return None


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
    result = _confine_as_asked(request) or _call(request)
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

"""Landlock around the step child: what keeps a step from Gatekey's home when both run as one
user (a Gatekey that is not root), and what still confines it when it runs as ``nobody``."""

from __future__ import annotations

import ctypes
import http.server
import json
import os
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gatekey.errors import StepSandboxFailed
from gatekey.workflows import step_host
from gatekey.workflows.sandbox import StepSandbox

NOBODY = 65534


def _landlock() -> str | None:
    """Why this kernel cannot confine a process (None when it can)."""
    try:
        step_host._landlock_abi(ctypes.CDLL(None, use_errno=True))
    except step_host.Unconfined as exc:
        return str(exc)
    return None


needs_landlock = pytest.mark.skipif(_landlock() is not None, reason=f"{_landlock()}")


def _sandbox(**options: Any) -> StepSandbox:
    python = os.environ["GATEKEY_STEP_PYTHON"]
    return StepSandbox(timeout=10, memory_mb=256, python=python, **options)


def as_gatekey_user(work: Callable[[Path], Any]) -> Any:
    """Run ``work(home)`` as a Gatekey that is not root, with a home and 0600 key file of its
    own: in this process if the suite is not root, else in a fork turned into ``nobody``."""
    if os.geteuid() != 0:
        with tempfile.TemporaryDirectory() as home:
            return work(Path(home))
    read, write = os.pipe()
    with warnings.catch_warnings():  # 3.12+ warns about forking a threaded process; the child
        warnings.simplefilter("ignore", DeprecationWarning)  # only starts a process and exits
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 0
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with tempfile.TemporaryDirectory() as home:
                answer: Any = {"value": work(Path(home))}
        except BaseException as exc:  # everything goes back to the test
            answer, code = {"error": type(exc).__name__, "code": getattr(exc, "code", None),
                            "message": getattr(exc, "message", str(exc))}, 1  # fmt: skip
        os.write(write, json.dumps(answer, default=str).encode())
        os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    answer = json.loads(data)
    if "error" in answer:
        raise (
            StepSandboxFailed(answer["message"])
            if answer["code"] == "step_sandbox_failed"
            else (AssertionError(answer))
        )
    return answer["value"]


def _key_in(home: Path) -> Path:
    key = home / "master.key"
    key.write_text("mk-CANARY-0001")
    key.chmod(0o600)
    home.chmod(0o700)
    return key


@needs_landlock
def test_a_step_running_as_gatekeys_user_cannot_read_its_home() -> None:
    def work(home: Path) -> Any:
        key = _key_in(home)
        assert key.read_text() == "mk-CANARY-0001", "the user itself can read its key file"
        sandbox = _sandbox(private=[home])
        assert sandbox.confinement == "required"
        result = sandbox.run("s", "tests.fakes.steps:snoop", {"paths": [str(key)]}, {}, {})
        return {"uid": os.getuid(), **result.output}

    output = as_gatekey_user(work)
    assert output["uid"] != 0
    key_read = next(iter(output["paths"].values()))
    assert key_read == "refused:PermissionError"


@needs_landlock
def test_a_confined_step_still_does_what_steps_do() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"

    def work(home: Path) -> Any:
        _key_in(home)
        sandbox = _sandbox(private=[home])
        return sandbox.run("s", "tests.fakes.steps:everyday", {"url": url}, {}, {}).output

    try:
        output = as_gatekey_user(work)
    finally:
        server.shutdown()
        server.server_close()
    assert "127.0.0.1" in output["resolved"]
    assert output["ca_certificates"] > 0, "the system CA store is readable for TLS"
    assert output["scratch"] == "scratch" and output["program"] == 0
    assert output["body"] == "hello"


@needs_landlock
def test_gatekeys_home_on_the_steps_python_path_is_refused_not_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def work(home: Path) -> Any:
        _key_in(home)
        os.environ["PYTHONPATH"] += os.pathsep + str(home.parent)
        return _sandbox(private=[home]).run("s", "tests.fakes.steps:good", {}, {}, {}).output

    monkeypatch.setenv("PYTHONPATH", os.environ["PYTHONPATH"])  # restored if work runs here
    with pytest.raises(StepSandboxFailed) as caught:
        as_gatekey_user(work)
    assert "could not be confined" in caught.value.message
    assert "GATEKEY_STEP_UNCONFINED" in caught.value.message


@pytest.mark.skipif(os.geteuid() != 0, reason="the step user is only switched from root")
@needs_landlock
def test_as_nobody_the_step_is_confined_too(tmp_path: Path) -> None:
    """Defence in depth: a world-readable file outside what steps need stays unread."""
    tmp_path.chmod(0o755)
    loose = tmp_path / "notes.txt"
    loose.write_text("readable by anyone")
    loose.chmod(0o644)
    sandbox = _sandbox()
    assert sandbox.confinement == "best-effort"
    result = sandbox.run("s", "tests.fakes.steps:snoop", {"paths": [str(loose)]}, {}, {})
    assert result.output["paths"][str(loose)] == "refused:PermissionError"


@pytest.fixture
def no_landlock(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(work: str, private: list[str]) -> int:
        raise step_host.Unconfined("this kernel offers no Landlock (Function not implemented)")

    monkeypatch.setattr(step_host, "confine", refuse)


def test_without_landlock_a_required_confinement_fails_the_step(no_landlock: None) -> None:
    answer = step_host._confine_as_asked({"confinement": "required", "private": ["/h"]})
    assert answer == {
        "ok": False,
        "kind": "unconfined",
        "phase": "confine",
        "message": "this kernel offers no Landlock (Function not implemented)",
    }
    assert step_host._confine_as_asked({"confinement": "best-effort"}) is None


def test_an_operator_can_let_unconfined_steps_run() -> None:
    assert _sandbox(allow_unconfined=True).confinement == "best-effort"


def test_a_kernel_without_landlock_is_named() -> None:
    class NoSyscall:
        def syscall(self, *args: Any) -> int:
            ctypes.set_errno(38)
            return -1

    with pytest.raises(step_host.Unconfined, match="offers no Landlock"):
        step_host._landlock_abi(NoSyscall())  # type: ignore[arg-type]


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: Any) -> None:
        pass

"""The step child: real processes, the limits, the scrubbed environment, nothing left behind."""

from __future__ import annotations

import ctypes
import os
import re
import sys
from pathlib import Path

import pytest

from gatekey.errors import (
    InvalidInput,
    StepExited,
    StepFailed,
    StepOutOfMemory,
    StepSandboxFailed,
    StepTimedOut,
)
from gatekey.runtime import Runtime
from gatekey.workflows.sandbox import StepSandbox

AUTHS = {"sendgrid": {"api_key": "SG.sandbox.CANARY0001"}}


@pytest.fixture
def sandbox() -> StepSandbox:
    return StepSandbox(timeout=5, memory_mb=256, python=os.environ["GATEKEY_STEP_PYTHON"])


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, already dead, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _pids(logs: str) -> list[int]:
    found = re.search(r"pids ([\d ]+)", logs)
    assert found, logs
    return [int(p) for p in found.group(1).split()]


def test_a_step_returns_json_and_its_output_is_captured(sandbox: StepSandbox) -> None:
    result = sandbox.run("s", "tests.fakes.steps:snoop", {"paths": []}, AUTHS, {})
    assert "credential: SG.sandbox.CANARY0001" in result.logs
    assert "credential on stderr: SG.sandbox.CANARY0001" in result.logs
    assert result.output["gatekey_env"] == []
    assert Path(result.output["cwd"]).name.startswith("gatekey-step-")
    assert not Path(result.output["cwd"]).exists(), "its working directory is removed"
    assert result.output["fds"][:3] == [0, 1, 2] and len(result.output["fds"]) <= 5


def test_the_environment_is_an_allow_list(
    sandbox: StepSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEKEY_MASTER_KEYS", "mk-1:c2VjcmV0")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db/gatekey")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-CANARY")
    result = sandbox.run("s", "tests.fakes.steps:snoop", {"paths": []}, AUTHS, {})
    assert not {"GATEKEY_MASTER_KEYS", "DATABASE_URL", "AWS_SECRET_ACCESS_KEY"} & set(
        result.output["env"]
    )
    assert "mk-1" not in result.output["self_environ"]
    assert "PYTHONPATH" in result.output["env"], "operator modules stay importable"


@pytest.mark.skipif(os.geteuid() != 0, reason="the step user is only switched from root")
def test_as_root_the_step_runs_as_nobody_and_cannot_read_the_server(
    sandbox: StepSandbox, tmp_path: Path
) -> None:
    secret = tmp_path / "master.key"
    secret.write_text("mk-CANARY")
    secret.chmod(0o600)
    result = sandbox.run("s", "tests.fakes.steps:snoop", {"paths": [str(secret)]}, AUTHS, {})
    assert result.output["uid"] != 0
    assert result.output["paths"][str(secret)].startswith("refused:")
    assert result.output["parent_environ"].startswith("refused:")


def test_a_step_past_the_time_limit_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    quick = StepSandbox(timeout=1.5, memory_mb=256, python=os.environ["GATEKEY_STEP_PYTHON"])
    with pytest.raises(StepTimedOut) as caught:
        quick.run("slow", "tests.fakes.steps:sleepy", {}, {}, {})
    assert caught.value.code == "step_timeout"
    assert "slow ran longer than 1.5 s" in caught.value.message
    host, grandchild = _pids(caught.value.details["logs"])
    assert not _alive(host) and not _alive(grandchild), "no process is left behind"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="subreaper is Linux")
@pytest.mark.parametrize("then", ["return", "sleep"])
def test_processes_a_step_detaches_are_stopped_with_it(then: str) -> None:
    """A session of their own (as ``pty:spawn`` makes) does not let them outlive the step."""
    quick = StepSandbox(timeout=2, memory_mb=256, python=os.environ["GATEKEY_STEP_PYTHON"])
    logs = ""
    try:
        logs = quick.run("d", "tests.fakes.steps:daemon", {"then": then}, {}, {}).logs
    except StepTimedOut as exc:
        assert then == "sleep"
        logs = exc.details["logs"]
    (detached,) = _pids(logs)
    forked = re.search(r"grandchild (\d+)", logs)
    assert forked, logs
    assert not _alive(detached) and not _alive(int(forked.group(1))), "nothing is left running"


def test_a_step_past_the_memory_limit_fails_clearly(sandbox: StepSandbox) -> None:
    with pytest.raises(StepOutOfMemory) as caught:
        sandbox.run("big", "tests.fakes.steps:hog", {}, {}, {})
    assert caught.value.code == "step_memory_exceeded"
    assert "256 MB" in caught.value.message
    (host,) = _pids(caught.value.details["logs"])
    assert not _alive(host)


@pytest.mark.parametrize(
    ("target", "error", "says"),
    [
        ("tests.fakes.steps:exits", StepExited, "SystemExit: 3"),
        ("tests.fakes.steps:interrupts", StepExited, "KeyboardInterrupt"),
        ("tests.fakes.steps:hard_exit", StepExited, "exit status 7"),
        ("tests.fakes.exit_on_import:step", StepExited, "importing tests.fakes.exit_on_import"),
        ("tests.fakes.steps:raises", StepFailed, "ValueError: bad input"),
        ("tests.fakes.steps:nothing_here", StepFailed, "AttributeError"),
    ],
)
def test_every_way_a_step_ends_badly_is_an_error_of_the_tree(
    sandbox: StepSandbox, target: str, error: type[StepFailed], says: str
) -> None:
    with pytest.raises(error) as caught:
        sandbox.run("bad", target, {"who": "ada"}, {}, {})
    assert says in caught.value.message


def test_an_interpreter_the_step_user_cannot_run_is_a_clear_error() -> None:
    broken = StepSandbox(python="/nonexistent/python3")
    with pytest.raises(StepSandboxFailed) as caught:
        broken.run("s", "tests.fakes.steps:good", {}, {}, {})
    assert "GATEKEY_STEP_PYTHON" in caught.value.message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux")
def test_a_process_that_opened_a_runtime_is_not_dumpable(runtime: Runtime) -> None:
    """So a step child of the same user cannot read its /proc/<pid>/environ or memory."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(3, 0, 0, 0, 0) == 0  # PR_GET_DUMPABLE


def test_a_step_user_needs_a_root_gatekey(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInput, match="never run as root"):
        StepSandbox(user="root")
    with pytest.raises(InvalidInput, match="no user"):
        StepSandbox(user="no-such-user-here")
    monkeypatch.setattr(os, "geteuid", lambda: 4242)
    with pytest.raises(InvalidInput, match="running as root"):
        StepSandbox(user="nobody")

"""How the suite registers and runs its python steps, as an operator would: settings only."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STEPS = (
    "echo_auth",
    "sandbox_token",
    "leak_token",
    "good",
    "snoop",
    "everyday",
    "sleepy",
    "hog",
    "exits",
    "interrupts",
    "hard_exit",
    "raises",
    "daemon",
    "odd_values",
)


def setting() -> str:
    """``GATEKEY_STEPS``: every step of ``tests/fakes/steps.py``, and one that exits on import."""
    entries = [f"{name}=tests.fakes.steps:{name}" for name in STEPS]
    entries.append("exit_on_import=tests.fakes.exit_on_import:step")
    return ",".join(entries)


MODULES = ("tests/__init__.py", "tests/fakes/__init__.py", "tests/fakes/steps.py",
           "tests/fakes/exit_on_import.py")  # fmt: skip


def python_path() -> str:
    """``PYTHONPATH`` for the step child: a world-readable copy of the step modules first (the
    checkout may sit where ``nobody`` cannot read, as under /root), then the inherited one."""
    copy = Path(tempfile.mkdtemp(prefix="gatekey-test-steps-"))
    copy.chmod(0o755)
    for module in MODULES:
        target = copy / module
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        shutil.copyfile(ROOT / module, target)
        target.chmod(0o644)
    atexit.register(shutil.rmtree, copy, ignore_errors=True)
    parts = [str(copy), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
    return os.pathsep.join(p for p in dict.fromkeys(parts) if p)


def interpreter() -> str:
    """``GATEKEY_STEP_PYTHON``: this interpreter, unless the step user (``nobody`` when the suite
    runs as root) cannot run it (a pyenv under /root): then Debian's."""
    if os.geteuid() != 0:
        return sys.executable
    for candidate in (sys.executable, "/usr/bin/python3"):
        try:
            subprocess.run(
                [candidate, "-c", ""], user="nobody", check=True, capture_output=True, timeout=30
            )
        except (OSError, subprocess.SubprocessError):
            continue
        return candidate
    return sys.executable

"""The README's "Set up" and "A first connection" sections, run as a newcomer types them: in a
fresh copy of the repository, a fresh virtual environment and a fresh home.

Every ``bash`` block of those sections runs as written, but the test command (the suite cannot
run itself from inside); the run command is started in the background. In ``console`` blocks
each ``$`` line is a command, and the lines after it are what it prints: every ``"key": value``
shown there, but ids and values elided with ``...``, must be in the JSON the command prints.
``python`` blocks run in the environment's interpreter. Two things are substituted, and only
these: the port (the server runs on a free one, so a Gatekey a reader left running on 8040
does not collide) and the placeholder ``gk_...`` (the key the server printed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from gatekey.api.problems import statuses
from tests.fakes.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("## Set up", "## A first connection")
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
PAIR = re.compile(r'"(\w+)": ("[^"]*"|null|true|false|-?\d+)')


@dataclass
class Command:
    language: str
    text: str
    shows: list[str] = field(default_factory=list)


def _section(readme: str, title: str) -> str:
    start = readme.index(title + "\n")
    end = readme.find("\n## ", start + len(title))
    return readme[start : end if end != -1 else None]


def _commands(block_language: str, body: str) -> Iterator[Command]:
    if block_language in ("bash", "python"):
        yield Command(block_language, body)
        return
    current: Command | None = None
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ "):
            text = line[2:]
            while text.endswith("\\") and i + 1 < len(lines):
                i += 1
                text = text + "\n" + lines[i]
            current = Command("console", text)
            yield current
        elif current is not None:
            current.shows.append(line)
        i += 1


def readme_commands() -> list[Command]:
    readme = (ROOT / "README.md").read_text("utf-8")
    found: list[Command] = []
    for title in SECTIONS:
        for language, body in FENCE.findall(_section(readme, title)):
            found.extend(_commands(language, body))
    return found


def _shown_pairs(lines: list[str]) -> list[tuple[str, Any]]:
    pairs = []
    for key, raw in PAIR.findall("\n".join(lines)):
        value = json.loads(raw)
        if isinstance(value, str) and ("..." in value or re.match(r"^[a-z]+_[0-9A-Z]{8,}", value)):
            continue  # elided, or an id that differs on every run
        pairs.append((key, value))
    return pairs


def _holds(data: Any, key: str, value: Any) -> bool:
    if isinstance(data, dict):
        if key in data and data[key] == value:
            return True
        return any(_holds(v, key, value) for v in data.values())
    if isinstance(data, list):
        return any(_holds(v, key, value) for v in data)
    return False


def _online(host: str) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=3):
            return True
    except OSError:
        return False


def _copy_of_the_repository(to: Path) -> Path:
    """The working tree as a fresh clone would hold it (tracked and new files, nothing ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            target = to / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return to


class Newcomer:
    """A shell on a fresh machine: its own home, the copy of the repository as working folder."""

    def __init__(self, repo: Path, home: Path, port: int) -> None:
        self.repo, self.home, self.port = repo, home, port
        self.key = ""
        self.server: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self.server_log = home / "serve.log"

    def env(self) -> dict[str, str]:
        keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
                "PIP_CONFIG_FILE", "PIP_FIND_LINKS", "PIP_NO_INDEX")  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(HOME=str(self.home), GATEKEY_PORT=str(self.port), GK=self.key)
        return env

    def text(self, command: str) -> str:
        text = command.replace("127.0.0.1:8040", f"127.0.0.1:{self.port}")
        return text.replace("gk_...", self.key) if self.key else text

    def shell(self, command: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        activate = ". .venv/bin/activate 2>/dev/null || true\n"
        return subprocess.run(
            ["bash", "-c", activate + self.text(command)],
            cwd=self.repo,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, command: str) -> None:
        install, _, serve = command.rpartition("&&")
        if install.strip():
            done = self.shell(install)
            assert done.returncode == 0, done.stderr[-3000:]
        self._log = log = self.server_log.open("w")
        self.server = subprocess.Popen(
            ["bash", "-c", ". .venv/bin/activate\nexec " + serve.strip()],
            cwd=self.repo,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 120  # a hang guard only
        while time.monotonic() < deadline and self.server.poll() is None:
            if self._answers():
                break
            time.sleep(0.2)
        printed = self.server_log.read_text("utf-8")
        assert self.server.poll() is None, printed
        found = re.search(r"\bgk_[A-Za-z0-9_-]{20,}", printed)
        assert found, f"no admin key in what the server printed:\n{printed}"
        self.key = found.group(0)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                probe.sendall(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                return probe.recv(12).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        if self._log is not None:
            self._log.close()


@pytest.fixture
def newcomer(tmp_path: Path) -> Iterator[Newcomer]:
    repo = _copy_of_the_repository(tmp_path / "gatekey")
    home = tmp_path / "home"
    home.mkdir()
    person = Newcomer(repo, home, free_port())
    yield person
    person.stop()


@pytest.mark.slow  # a virtual environment, an install and a server process
def test_the_readme_set_up_and_first_connection_work_as_written(newcomer: Newcomer) -> None:
    commands = readme_commands()
    assert any("gatekey serve" in c.text for c in commands)
    ran = 0
    for command in commands:
        if command.language == "bash" and "pytest" in command.text:
            continue  # the test command: this suite is its proof
        if command.language == "bash" and "gatekey serve" in command.text:
            newcomer.start(command.text)
            ran += 1
            continue
        if command.language == "python":
            script = newcomer.home / "readme_example.py"
            script.write_text(newcomer.text(command.text), "utf-8")
            done = newcomer.shell(f"python3 {script}")
        else:
            done = newcomer.shell(command.text)
        ran += 1
        assert done.returncode == 0, (command.text, done.stdout[-2000:], done.stderr[-3000:])
        if command.language == "console" and command.text.startswith("export "):
            name, _, value = command.text.removeprefix("export ").partition("=")
            assert name == "GK" and newcomer.text(value.split()[0]) == newcomer.key
            continue
        pairs = _shown_pairs(command.shows)
        if not pairs:
            continue
        checked = "sendgrid" in command.text and "skip_test" not in command.text
        if checked and _online("api.sendgrid.com"):
            continue  # this machine reaches SendGrid: its refusal is another answer
        printed = json.loads(done.stdout)
        for key, value in pairs:
            assert _holds(printed, key, value), (command.text, key, value, printed)
    assert ran >= 6, f"only {ran} README commands ran"
    assert sys.version_info >= (3, 11)


def test_the_readme_error_table_is_the_apis() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    table = readme[readme.index("| status | codes |") :].split("\n\n", 1)[0]
    listed = {}
    for row in table.splitlines()[2:]:
        status, codes = row.strip("|").split("|", 1)
        for code in re.findall(r"`([a-z_]+)`", re.sub(r"\(.*?\)", "", codes)):
            listed[code] = int(status)
    assert listed == statuses()

"""``gatekey connections export`` and ``import``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.cli import run


def test_export_then_import_into_another_project(
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, err = run(
        "connections", "create", "--app", "sendgrid", "--name", "SG",
        "--field", "api_key=SG.cli.CANARYexport01", "--skip-test",
    )  # fmt: skip
    assert code == 0, err
    monkeypatch.setenv("GK_EXPORT_PASS", "a long enough passphrase")
    target = tmp_path / "export.json"
    code, out, err = run(
        "connections", "export", "--file", str(target), "--passphrase-env", "GK_EXPORT_PASS"
    )
    assert code == 0, err
    assert "CANARYexport01" not in target.read_text()
    assert target.stat().st_mode & 0o777 == 0o600
    code, _, err = run("projects", "create", "staging")
    assert code == 0, err
    code, out, err = run(
        "connections", "import", "--file", str(target), "--passphrase-env", "GK_EXPORT_PASS",
        "--project", "staging",
    )  # fmt: skip
    assert code == 0, err
    assert "imported 1, skipped 0" in out


@pytest.mark.parametrize("content", ["{not json", None])
def test_an_unreadable_export_is_one_line_and_exit_2(
    env: Path, tmp_path: Path, content: str | None
) -> None:
    file = tmp_path / "export.json"
    if content is not None:
        file.write_text(content)
    code, _, err = run("connections", "import", "--file", str(file))
    assert code == 2 and err.startswith(f"error [invalid_input]: cannot read {file}: ")
    assert "Traceback" not in err and err.count("\n") == 1

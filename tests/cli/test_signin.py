"""The one-time sign-in link is a credential: ``gatekey serve`` shows it on a terminal only and
never logs it; ``gatekey signin-link`` prints a fresh one, which replaces older unused links."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import httpx2
import pytest
from typer.testing import CliRunner

from gatekey.cli import app
from gatekey.errors import AuthenticationFailed
from gatekey.runtime import open_runtime
from gatekey.settings import Settings
from tests.fakes.cli import serving

LINK = re.compile(r"(https?://\S+/signin/([A-Za-z0-9_-]{20,}))")


def test_signin_link_prints_a_fresh_link_that_replaces_older_ones(
    env: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    first = runner.invoke(app, ["signin-link"])
    assert first.exit_code == 0, first.stderr
    _, old_token = LINK.fullmatch(first.stdout.strip()).groups()  # type: ignore[union-attr]
    assert "older unused links of the project no longer work" in first.stderr

    runtime = open_runtime(Settings())
    try:
        service = runtime.service
        session, _ = service.system.sign_in(
            link=old_token
        )  # a session signed in with the first link
        second = runner.invoke(app, ["signin-link", "--quiet"])
        assert second.exit_code == 0 and second.stderr == ""
        new_token = LINK.fullmatch(second.stdout.strip()).group(2)  # type: ignore[union-attr]
        assert new_token != old_token
        third = runner.invoke(app, ["signin-link", "-q"]).stdout.strip()
        with pytest.raises(AuthenticationFailed, match="replaced by a newer one"):
            service.system.sign_in(link=new_token)  # unused, then replaced by the third
        assert service.system.sign_in(link=LINK.fullmatch(third).group(2))  # type: ignore[union-attr]
        assert service.system.web_session(session).actor.key_id == "signin-link"  # still signed in
    finally:
        runtime.close()
    tokens = (old_token, new_token)
    assert not [r for r in caplog.records if any(t in r.getMessage() for t in tokens)]


def _log_records(lines: list[str]) -> list[dict[str, str]]:
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "level" in record:
            records.append(record)
    return records


@pytest.mark.slow  # a gatekey serve process
def test_serve_into_a_log_prints_no_link(tmp_path: Path, database_url: str) -> None:
    with serving(tmp_path / "home", database_url) as server:
        lines = server.lines
        text = "\n".join(lines)
        assert "/signin/" not in text
        assert "run 'gatekey signin-link' for a one-time link" in text
        assert _log_records(lines), "the JSON log format was in force"


@pytest.mark.slow  # a gatekey serve process
def test_serve_on_a_terminal_shows_a_working_link_outside_the_logs(
    tmp_path: Path, database_url: str
) -> None:
    with serving(tmp_path / "home", database_url, terminal=True) as server:
        base, lines = server.base, server.lines
        shown = [line for line in lines if "/signin/" in line]
        assert len(shown) == 1 and shown[0].startswith("Sign in (one-time link): ")
        url, token = LINK.search(shown[0]).groups()  # type: ignore[union-attr]
        records = _log_records(lines)
        assert records and not [r for r in records if token in json.dumps(r)]
        with httpx2.Client(base_url=base) as browser:
            signed = browser.get(url.replace(url.split("/signin/")[0], base))
            assert signed.status_code == 303 and "gatekey_session" in signed.headers["set-cookie"]

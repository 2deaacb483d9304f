"""``gatekey connections connect``: what it says when it cannot start."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.cli import run


def test_connect_without_a_client_says_what_to_do(env: Path) -> None:
    code, _, err = run("connections", "connect", "--app", "github", "--no-wait")
    assert code == 2
    assert "oauth_client_missing" in err and "register one" in err


def test_reconnect_takes_the_account_switch_option(env: Path) -> None:
    code, out, _ = run("connections", "reconnect", "--help")
    assert code == 0 and "--allow-account-switch" in out
    missing = "conn_01M8VCZXRDDD3TE4JPYAD112WV"
    code, _, err = run("connections", "reconnect", missing, "--allow-account-switch", "--no-wait")
    assert code != 0 and "not_found" in err

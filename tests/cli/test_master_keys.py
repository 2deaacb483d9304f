"""``gatekey keys``: rotate and retire master keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.cli import create_connection, run
from tests.fakes.keys import MASTER_KEY


def test_master_keys(env: Path) -> None:
    create_connection("sendgrid", "a", "api_key=SG.a.b")
    old = json.loads(run("keys", "list", "--json")[1])[0]["id"]
    code, _, err = run("keys", "retire", old)
    assert code == 4 and "key_in_use" in err
    assert "rotate first: run 'gatekey keys rotate'" in err, "the hint, as this adapter says it"
    code, out, _ = run("keys", "rotate")
    assert code == 0 and "rewrapped 1 data key(s)" in out
    listed = json.loads(run("keys", "list", "--json")[1])
    assert [k["data_keys"] for k in listed] == [1, 0]
    assert run("keys", "retire", old)[0] == 0


def test_env_master_keys_cannot_be_added_to(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEKEY_MASTER_KEYS", MASTER_KEY)
    code, _, err = run("keys", "rotate")
    assert code == 8
    assert "put the new key first" in err

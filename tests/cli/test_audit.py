"""``gatekey audit``: list the trail, verify its chains."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.cli import create_connection, run


def test_audit_list_and_verify(env: Path, database_url: str) -> None:
    from sqlalchemy import create_engine, update

    from gatekey.store.tables import audit_events

    create_connection("sendgrid", "SG", "api_key=SG.a.b")
    create_connection("stripe", "ST", "api_key=sk_test_1")
    code, out, _ = run("audit", "list")
    assert code == 0 and "connection.create" in out
    code, out, _ = run("audit", "verify")
    assert code == 0 and out.startswith("ok: ") and "all intact" in out

    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(update(audit_events).where(audit_events.c.seq == 1).values(outcome="x"))
    engine.dispose()
    code, _, err = run("audit", "verify", "--project", "default")
    assert code == 9
    assert "#1: edited" in err and "error [audit_chain_broken]: 1 break(s)" in err

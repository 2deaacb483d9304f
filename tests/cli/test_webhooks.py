"""``gatekey webhooks``: endpoints, pings, deliveries."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.cli import create_connection, run


def test_webhooks_from_the_command_line(env: Path) -> None:
    from tests.fakes.receiver import receiver

    with receiver() as hub:
        code, out, err = run("webhooks", "add", f"{hub.url}/hook", "-e", "connection.created")
        assert code == 0 and out.startswith("added whk_") and "whsec_" in err
        webhook_id = out.split()[1]
        create_connection("sendgrid", "SG", "api_key=SG.a.b")
        assert run("webhooks", "ping", webhook_id)[0] == 0
        code, out, _ = run("worker", "--once")
        assert code == 0 and "sent 2 webhook(s)" in out
        assert sorted(h.headers["Gatekey-Event"] for h in hub.hooks) == [
            "connection.created",
            "webhook.ping",
        ]
    code, out, _ = run("webhooks", "deliveries", webhook_id, "--json")
    assert code == 0 and {d["status"] for d in json.loads(out)} == {"delivered"}
    code, out, _ = run("webhooks", "list")
    assert "delivered 2" in out
    assert run("webhooks", "remove", webhook_id)[0] == 0

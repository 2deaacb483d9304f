from __future__ import annotations

from pathlib import Path

from gatekey import Gatekey
from tests.fakes.keys import MASTER_KEY
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders


def test_embedded_mode_needs_no_server(tmp_path: Path, database_url: str) -> None:
    providers = FakeProviders()
    with Gatekey(
        database_url, home=tmp_path, master_keys=MASTER_KEY, transport=providers.transport()
    ) as gk:
        conn = gk.create_connection("sendgrid", "SendGrid - Production", {"api_key": GOOD_SENDGRID})
        assert gk.list_connections().items[0].id == conn.id
        assert gk.resolve_credentials(conn.id).headers["Authorization"].endswith(GOOD_SENDGRID)
        assert gk.rename_connection(conn.id, "Renamed").name == "Renamed"
        assert gk.set_default(conn.id).is_default
        assert gk.test_connection(conn.id).ok
        assert gk.delete_connection(conn.id).was_default
    with Gatekey(database_url, home=tmp_path, master_keys=MASTER_KEY) as again:
        assert again.list_connections().items == []
        assert next(e.action for e in again.audit_trail()) == "connection.delete"

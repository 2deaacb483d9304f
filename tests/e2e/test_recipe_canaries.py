"""The long-lived secrets of every minted recipe kind (a service account's private key, a
GitHub App's private key, AWS secret access keys, a login password) never leave Gatekey: not
in any API answer (create, get, list, update, test, audit, the credentials endpoint, which
hands out the minted token only), not in metrics, not in any log line at DEBUG, not in the
SQLite files. Each kind connects to its peer (``tests.fakes.minted_peers``), is tested, renews
its token and is deleted through the REST API."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from gatekey.runtime import open_runtime
from gatekey.server import create_app
from gatekey.service import Actor, utcnow
from gatekey.settings import Settings
from gatekey.store.tables import connections
from tests.fakes.keys import MASTER_KEY
from tests.fakes.minted_peers import PEERS


@pytest.mark.parametrize("kind", sorted(PEERS))
def test_a_minted_kind_never_shows_its_long_lived_secrets(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    with PEERS[kind](0.0) as peer:
        caplog.clear()  # the peer's own setup (moto's IAM answers hold the keys it made)
        settings = Settings(
            home=tmp_path,
            master_keys=MASTER_KEY,
            audit_flush_interval=0.05,
            egress_allow="127.0.0.1",
        )
        runtime = open_runtime(settings, extra_apps=[peer.app])
        project, key = runtime.service.system.bootstrap()
        assert key is not None
        cid = peer.connect(runtime.service, Actor.operator(project.id))
        headers = {"Authorization": f"Bearer {key.token}"}
        with TestClient(create_app(runtime)) as client:
            base = f"/api/v1/connections/{cid}"
            first = client.post(f"{base}/credentials", headers=headers)
            assert first.status_code == 200, first.text
            seen.append(first.text)
            with runtime.db.write() as conn:  # the token falls due: minted again
                conn.execute(
                    update(connections)
                    .where(connections.c.id == cid)
                    .values(expires_at=utcnow(), version=connections.c.version + 1)
                )
            renewed = client.post(f"{base}/credentials", headers=headers)
            assert renewed.status_code == 200 and renewed.json() != first.json()
            seen.append(renewed.text)
            for response in (
                client.get(base, headers=headers),
                client.patch(base, json={"name": "renamed"}, headers=headers),
                client.post(f"{base}/test", headers=headers),
                client.get(f"{base}/audit", headers=headers),
                client.get("/api/v1/connections", headers=headers),
                client.get("/api/v1/audit", headers=headers),
                client.get("/metrics"),
                client.delete(base, headers=headers),
            ):
                assert response.status_code < 500, response.text
                seen.append(response.text)
        runtime.service.context.audit.flush()
        runtime.close()
        secrets = peer.secrets
    assert secrets and peer.mints() >= 2
    minted = [_minted(first.json()), _minted(renewed.json())]
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert caplog.records, "DEBUG logging was captured"
    blobs = [p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("gatekey.db")]
    assert blobs
    for secret in secrets:
        for text in seen:
            assert secret not in text
        assert secret not in logged
        for blob in blobs:
            assert secret.encode() not in blob
    for token in minted:  # handed out by the credentials endpoint, and nowhere in the logs
        assert token and token not in logged


def _minted(answer: dict[str, object]) -> str:
    fields = answer.get("fields") or {}
    signing = answer.get("signing") or {}
    assert isinstance(fields, dict) and isinstance(signing, dict)
    return str(fields.get("access_token") or signing.get("secret_access_key") or "")

"""Sign-in and the session cookie over HTTP (no browser needed)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from gatekey.runtime import open_runtime
from gatekey.server import create_app
from gatekey.service import Actor
from gatekey.settings import Settings
from gatekey.store.tables import api_keys
from tests.fakes.keys import MASTER_KEY
from tests.fakes.providers import GOOD_SENDGRID


def test_cookie_is_secure_behind_https_and_links_are_one_time(
    tmp_path: Path, database_url: str
) -> None:
    settings = Settings(
        home=tmp_path,
        database_url=database_url,
        master_keys=MASTER_KEY,
        public_url="https://gatekey.example.com",
    )
    runtime = open_runtime(settings)
    project, _ = runtime.service.system.bootstrap()
    link = runtime.service.system.create_signin_link(project.id)
    with TestClient(create_app(runtime), base_url="https://gatekey.example.com") as client:
        signed = client.get(f"/signin/{link}", follow_redirects=False)
        assert signed.status_code == 303 and signed.headers["location"] == "/connections"
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
        again = client.get(f"/signin/{link}", follow_redirects=False)
        assert again.status_code == 401 and "used already" in again.text
        page = client.get("/connections")
        assert page.status_code == 200
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        no_token = client.post("/connections/x/delete")
        assert no_token.status_code == 403
        wrong_origin = client.post(
            "/signin", data={"api_key": "gk_x"}, headers={"Origin": "https://evil.example"}
        )
        assert wrong_origin.status_code == 403
    with TestClient(create_app(runtime), base_url="https://gatekey.example.com") as anonymous:
        bounced = anonymous.get("/connections", follow_redirects=False)
        assert bounced.status_code == 303 and bounced.headers["location"].startswith("/signin")
    runtime.close()


def _csrf(html: str) -> str:
    found = re.search(r'<meta name="csrf" content="([^"]+)">', html)
    assert found is not None, "the page carries no CSRF token"
    return found.group(1)


@pytest.mark.parametrize("ending", ["revoked", "expired"])
def test_a_session_ends_with_the_api_key_that_opened_it(
    tmp_path: Path, database_url: str, ending: str
) -> None:
    settings = Settings(home=tmp_path, database_url=database_url, master_keys=MASTER_KEY)
    runtime = open_runtime(settings)
    service = runtime.service
    project, _ = service.system.bootstrap()
    operator = Actor.operator(project.id)
    lifetime = timedelta(hours=1) if ending == "expired" else None
    key = service.access.create_key(operator, name="browser", role="admin", expires_in=lifetime)
    made = service.connections.create(
        operator, app="sendgrid", name="Mail", fields={"api_key": GOOD_SENDGRID}, validate=False
    )
    with TestClient(create_app(runtime), base_url="http://127.0.0.1:8040") as client:
        signed = client.post("/signin", data={"api_key": key.token}, follow_redirects=False)
        assert signed.status_code == 303
        csrf = _csrf(client.get("/connections").text)
        renamed = client.post(f"/connections/{made.id}/rename", data={"csrf": csrf, "name": "A"})
        assert renamed.status_code == 200 and renamed.json()["ok"]

        if ending == "revoked":
            service.access.revoke_key(operator, key.id)
        else:
            with service.context.db.write() as conn:
                conn.execute(
                    update(api_keys)
                    .where(api_keys.c.id == key.id)
                    .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
                )

        page = client.get("/connections", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/signin")
        card = client.get(f"/connections/{made.id}/card", follow_redirects=False)
        assert card.status_code == 303
        posted = client.post(
            f"/connections/{made.id}/rename",
            data={"csrf": csrf, "name": "B"},
            headers={"X-CSRF-Token": csrf},
            follow_redirects=False,
        )
        assert posted.status_code == 303 and posted.headers["location"].startswith("/signin")
        deleted = client.post(
            f"/connections/{made.id}/delete", data={"csrf": csrf}, follow_redirects=False
        )
        assert deleted.status_code == 303
    assert service.connections.get(operator, made.id).name == "A"
    runtime.close()

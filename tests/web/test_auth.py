"""Sign-in and the session cookie over HTTP (no browser needed)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from gatekey.api.app import create_app
from gatekey.runtime import open_runtime
from gatekey.settings import Settings
from tests.conftest import MASTER_KEY


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
    project, _ = runtime.service.bootstrap()
    link = runtime.service.create_signin_link(project.id)
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

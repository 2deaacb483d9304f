"""Secrets a provider echoes back re-encoded never reach what Gatekey stores or shows.

A real provider on loopback (``tests.fakes.echo_provider``) quotes the credentials it was sent
in its errors and its "who am I": the key in hex, reversed, upper-cased, URL-encoded, base64;
the basic ``Authorization`` header; the OAuth client's ``base64(client_id:client_secret)`` and
the refresh token in every form. None of these appears in the connection's stored row, its API
answers, its pages or the outputs of runs.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gatekey.catalog.schema import App
from gatekey.domain.masking import MASK
from gatekey.errors import ConnectionInactive
from gatekey.runtime import Runtime, open_runtime
from gatekey.server import create_app
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.store.tables import connections, oauth_sessions, run_steps, runs
from tests.fakes.echo_provider import (
    ACCESS,
    API_KEY,
    BASIC_PASSWORD,
    BASIC_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    FORMS,
    REFRESH,
    EchoState,
    app_definitions,
    echo_provider,
    key_app,
)
from tests.fakes.keys import MASTER_KEY

SECRETS = [API_KEY, BASIC_PASSWORD, CLIENT_SECRET, ACCESS, REFRESH]
PAIRS = [(BASIC_USER, BASIC_PASSWORD), (CLIENT_ID, CLIENT_SECRET)]


def _spellings(value: str) -> set[str]:
    data = value.encode()
    b64 = base64.b64encode(data).decode()
    url = base64.urlsafe_b64encode(data).decode()
    return {
        value,
        value[::-1],
        value.upper(),
        value.lower(),
        data.hex(),
        data.hex().upper(),
        b64,
        b64.rstrip("="),
        url,
        url.rstrip("="),
        quote(value, safe=""),
        quote_plus(value),
    }


FORBIDDEN = sorted(
    {s for v in SECRETS for s in _spellings(v)}
    | {s for u, p in PAIRS for s in _spellings(f"{u}:{p}")}
)


def leaks(text: str) -> list[str]:
    """The spellings of a canary secret found in ``text`` (it is written here, independently
    of ``domain.masking``, so the test does not trust the code it checks)."""
    return [form for form in FORBIDDEN if form in text]


@dataclass
class Echo:
    runtime: Runtime
    state: EchoState
    actor: Actor
    http: TestClient
    admin: dict[str, str]

    @property
    def service(self) -> Service:
        return self.runtime.service


@pytest.fixture
def echo(tmp_path: Path, database_url: str) -> Iterator[Echo]:
    with echo_provider() as (base, state):
        settings = Settings(
            home=tmp_path / "home",
            database_url=database_url,
            master_keys=MASTER_KEY,
            audit_flush_interval=0.05,
        )
        apps = [App.model_validate(a) for a in app_definitions(base)]
        runtime = open_runtime(settings, extra_apps=apps)
        project, _ = runtime.service.system.bootstrap()
        actor = Actor.operator(project.id)
        key = runtime.service.access.create_key(actor, name="admin", role="admin")
        with TestClient(create_app(runtime)) as http:
            signed = http.post("/signin", data={"api_key": key.token}, follow_redirects=False)
            assert signed.status_code == 303
            yield Echo(runtime, state, actor, http, {"Authorization": f"Bearer {key.token}"})
        runtime.close()


def _everything_shown(echo: Echo, connection_ids: list[str]) -> dict[str, str]:
    """Every place a connection's provider text is stored or shown, as text."""
    shown = {
        "GET /connections": echo.http.get("/api/v1/connections?limit=200", headers=echo.admin).text,
        "page /connections": echo.http.get("/connections").text,
    }
    for cid in connection_ids:
        for path in (f"/api/v1/connections/{cid}", f"/api/v1/connections/{cid}/diagnosis"):
            shown[f"GET {path}"] = echo.http.get(path, headers=echo.admin).text
        shown[f"page {cid}"] = echo.http.get(f"/connections/{cid}").text
        shown[f"card {cid}"] = echo.http.get(f"/connections/{cid}/card").text
    with echo.service.context.db.read() as conn:
        shown["connections table"] = repr(conn.execute(select(connections)).all())
        shown["oauth_sessions table"] = repr(conn.execute(select(oauth_sessions)).all())
    return shown


def _assert_nothing_leaks(shown: dict[str, str]) -> None:
    found = {where: leaks(text) for where, text in shown.items() if leaks(text)}
    assert found == {}


def test_echoed_keys_and_basic_pairs_are_masked_in_messages_and_labels(echo: Echo) -> None:
    service, actor = echo.service, echo.actor
    made = []
    for n, form in enumerate(FORMS):
        app = key_app(form)
        refused = echo.http.post(
            "/api/v1/connections",
            json={"app": app, "name": f"new {n}", "fields": {"api_key": API_KEY}},
            headers=echo.admin,
        )
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_credentials"
        assert leaks(refused.text) == [], form
        assert f"unknown key {MASK}" in refused.json()["detail"], form
        conn = service.connections.create(
            actor, app=app, name=f"key {n}", fields={"api_key": API_KEY}, validate=False
        )
        result = service.connections.test(actor, conn.id)
        assert not result.ok and leaks(result.message) == [] and MASK in result.message
        made.append(conn.id)
    for form in ("header", "b64", "b64url", "lower"):
        fields = {"user": BASIC_USER, "password": BASIC_PASSWORD}
        conn = service.connections.create(
            actor, app=f"echo-basic-{form}", name=f"basic {form}", fields=fields, validate=False
        )
        result = service.connections.test(actor, conn.id)
        assert not result.ok and leaks(result.message) == [], form
        assert result.message.endswith(MASK), form
        made.append(conn.id)
    named = service.connections.create(
        actor, app=key_app("whoami"), name="who", fields={"api_key": API_KEY}
    )
    owner = service.connections.create(
        actor, app=key_app("whoami-owner"), name="owner", fields={"api_key": API_KEY}
    )
    assert named.account_label == MASK
    assert owner.account_label == f"the owner of {MASK}"
    assert service.connections.test(actor, owner.id).account_label == f"the owner of {MASK}"
    stored = service.connections.get(actor, made[0])
    assert stored.status == "inactive" and stored.status_reason == "invalid_credentials"
    _assert_nothing_leaks(_everything_shown(echo, [*made, named.id, owner.id]))


def _callback(echo: Echo, name: str) -> Any:
    started = echo.service.authorizations.start(echo.actor, app="echo-oauth", name=name)
    state = dict(parse_qsl(urlsplit(started.authorize_url or "").query))["state"]
    page = echo.http.get("/oauth/callback", params={"state": state, "code": "code-1"})
    return started, page


def test_echoed_oauth_client_and_refresh_tokens_are_masked(echo: Echo) -> None:
    service, actor = echo.service, echo.actor
    service.oauth_clients.register(
        actor, app="echo-oauth", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    echo.state.fail_exchange = True
    failed, page = _callback(echo, "Refused")
    status = service.authorizations.status(actor, failed.id)
    assert status.status == "failed" and status.error_code == "oauth_token_exchange_failed"
    assert MASK in (status.error_message or "") and leaks(status.error_message or "") == []
    assert leaks(page.text) == []
    api_status = echo.http.get(f"/api/v1/oauth/sessions/{failed.id}", headers=echo.admin)
    assert leaks(api_status.text) == []

    echo.state.fail_exchange = False
    connected, _ = _callback(echo, "Echo account")
    done = service.authorizations.status(actor, connected.id)
    assert done.status == "succeeded" and done.connection_id
    cid = done.connection_id
    assert service.connections.get(actor, cid).account_label == MASK
    with pytest.raises(ConnectionInactive) as caught:
        service.credentials.resolve(actor, cid, stale_token=ACCESS)
    assert leaks(caught.value.message) == [] and MASK in caught.value.message
    revoked = service.connections.get(actor, cid)
    assert revoked.status == "inactive" and revoked.status_reason == "revoked"
    for text in (revoked.status_message or "", revoked.last_error or ""):
        assert "refresh token revoked" in text and leaks(text) == []
    _assert_nothing_leaks(_everything_shown(echo, [cid]))


def test_run_outputs_mask_every_echoed_form(echo: Echo) -> None:
    service, actor = echo.service, echo.actor
    service.oauth_clients.register(
        actor, app="echo-oauth", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    _, _ = _callback(echo, "Echo account")
    oauth_id = service.connections.list(actor, app="echo-oauth").items[0].id
    key = service.connections.create(
        actor, app=key_app("plain"), name="key", fields={"api_key": API_KEY}, validate=False
    )
    basic = service.connections.create(
        actor,
        app="echo-basic-header",
        name="basic",
        fields={"user": BASIC_USER, "password": BASIC_PASSWORD},
        validate=False,
    )
    steps = [
        {"id": name, "app": app, "connection": cid, "type": "http", "http": {"path": "/echo"}}
        for name, app, cid in (
            ("key", key_app("plain"), key.id),
            ("basic", "echo-basic-header", basic.id),
            ("oauth", "echo-oauth", oauth_id),
        )
    ]
    flow = service.flows.create(actor, name="Echo", definition={"steps": steps})
    queued = service.runs.trigger(actor, flow.id, {})
    assert echo.runtime.engine.work_once("test-worker") == queued.id
    run = service.runs.get(actor, queued.id)
    assert run.status == "succeeded", run.error_message
    assert all(MASK in str(step.output) for step in run.steps)
    assert leaks(str([s.model_dump() for s in run.steps])) == []
    outputs = run.steps[1].output
    assert outputs["body"]["basic"]["header"] == f"Basic {MASK}"
    shown = {
        "GET /runs/{id}": echo.http.get(f"/api/v1/runs/{run.id}", headers=echo.admin).text,
        "GET /runs": echo.http.get("/api/v1/runs", headers=echo.admin).text,
        "page /runs/{id}": echo.http.get(f"/runs/{run.id}").text,
    }
    with service.context.db.read() as conn:
        shown["runs tables"] = repr(conn.execute(select(runs)).all()) + repr(
            conn.execute(select(run_steps)).all()
        )
    _assert_nothing_leaks(shown)
    assert re.search(r"rejected|unknown", shown["GET /runs/{id}"]) is None

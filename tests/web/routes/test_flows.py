"""``web.routes.flows`` (and the run page): connection names are read for the connections shown,
however many the project has; Run queues a run, with the JSON input typed on the page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from gatekey.runtime import Runtime
from gatekey.server import create_app
from gatekey.service import Actor


def test_names_of_connections_past_the_first_page_are_shown(runtime: Runtime) -> None:
    service = runtime.service
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    made = [
        service.connections.create(
            actor,
            app="sendgrid",
            name=f"SendGrid {n:03}",
            fields={"api_key": "SG.a.b"},
            validate=False,
        ).id
        for n in range(205)
    ]
    last = made[-1]
    step = {"id": "send", "app": "sendgrid", "connection": last, "type": "http"}
    flow = service.flows.create(
        actor, name="Mail", definition={"steps": [{**step, "http": {"path": "/v3/scopes"}}]}
    )
    run = service.runs.trigger(actor, flow.id, {})
    runtime.engine.work_once("w1")
    with TestClient(create_app(runtime)) as client:
        link = service.system.create_signin_link(project.id)
        assert client.get(f"/signin/{link}", follow_redirects=False).status_code == 303
        flows = client.get("/flows")
        using = client.get(f"/flows?connection={last}")
        run_page = client.get(f"/runs/{run.id}")
    assert flows.status_code == using.status_code == run_page.status_code == 200
    assert ">SendGrid 204</a>" in flows.text
    assert "<strong>SendGrid 204</strong>" in using.text
    assert ">SendGrid 204</a>" in run_page.text


def test_names_are_the_projects_own(runtime: Runtime) -> None:
    service = runtime.service
    mine = Actor.operator(service.system.bootstrap()[0].id)
    theirs = Actor.operator(service.system.create_project("theirs").id)
    own = service.connections.create(
        mine, app="sendgrid", name="Mine", fields={"api_key": "SG.a.b"}, validate=False
    )
    other = service.connections.create(
        theirs, app="sendgrid", name="Theirs", fields={"api_key": "SG.a.b"}, validate=False
    )
    assert service.connections.names(mine, [own.id, other.id, "conn_gone"]) == {own.id: "Mine"}


def test_run_queues_a_run_with_the_input_typed_on_the_page(runtime: Runtime) -> None:
    service = runtime.service
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    step = {"id": "send", "app": "sendgrid", "type": "http", "http": {"path": "/v3/scopes"}}
    flow = service.flows.create(actor, name="Mail", definition={"steps": [step]})
    with TestClient(create_app(runtime)) as client:
        link = service.system.create_signin_link(project.id)
        assert client.get(f"/signin/{link}", follow_redirects=False).status_code == 303
        listing = client.get("/flows").text
        csrf = re.search(r'<meta name="csrf" content="([^"]+)">', listing)
        assert csrf is not None
        assert f'action="/flows/{flow.id}/runs"' in listing
        plain = client.post(f"/flows/{flow.id}/runs", data={"csrf": csrf.group(1)})
        given = client.post(
            f"/flows/{flow.id}/runs", data={"csrf": csrf.group(1), "input": '{"name": "Ada"}'}
        )
        broken = client.post(
            f"/flows/{flow.id}/runs", data={"csrf": csrf.group(1), "input": '{"name": '}
        )
        listed = client.post(f"/flows/{flow.id}/runs", data={"csrf": csrf.group(1), "input": "[1]"})
    runs = {r.id: r for r in service.runs.list(actor, flow_id=flow.id)}
    assert plain.json()["ok"] and given.json()["ok"]
    first = plain.json()["redirect"].removeprefix("/runs/")
    second = given.json()["redirect"].removeprefix("/runs/")
    assert runs[first].input == {} and runs[second].input == {"name": "Ada"}
    assert runs[first].status == "queued" and runs[first].trigger == "manual"
    assert broken.status_code == 400 and broken.json()["code"] == "invalid_input"
    assert "not valid JSON (line 1, column 10" in broken.json()["message"]
    assert listed.status_code == 400 and "must be an object" in listed.json()["message"]
    assert len(runs) == 2  # the refused ones queued nothing

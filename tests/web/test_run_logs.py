"""The run page shows what a python step printed, with the run's secrets masked."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gatekey.runtime import Runtime
from gatekey.server import create_app
from gatekey.service import Actor
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders


def test_the_run_page_shows_a_steps_printed_output_masked(
    runtime: Runtime, providers: FakeProviders
) -> None:
    service = runtime.service
    project, _ = service.bootstrap()
    actor = Actor.operator(project.id)
    service.create_connection(actor, app="sendgrid", name="SG", fields={"api_key": GOOD_SENDGRID})
    step = {"id": "code", "app": "sendgrid", "type": "python", "python": {"callable": "snoop"}}
    flow = service.create_flow(actor, name="Prints", definition={"steps": [step]})
    run_id = service.trigger_run(actor, flow.id, {"paths": []}).id
    service.work_once("w1")
    with TestClient(create_app(runtime)) as client:
        link = service.create_signin_link(project.id)
        assert client.get(f"/signin/{link}", follow_redirects=False).status_code == 303
        page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert "Printed output" in page.text and "credential: ••••" in page.text
    assert GOOD_SENDGRID not in page.text

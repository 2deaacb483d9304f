"""The engine: fresh credentials per run, outputs without secrets, the revoke-reconnect-retry
story."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from gatekey.models import Run
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.store.tables import flows
from gatekey.workflows.engine import Engine
from tests.fakes.apps import NOTION_KEY, notion_like
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders
from tests.fakes.sandbox import Sandbox, connect
from tests.fakes.slack import FIRST_TOKEN, SlackWorld, slack_world

ME = {"id": "me", "app": "sandbox", "type": "http", "http": {"path": "/api/me"}}


def _python(step_id: str, step: str) -> dict[str, Any]:
    """A python step running a registered step of ``tests/fakes/steps.py``."""
    return {"id": step_id, "app": "sandbox", "type": "python", "python": {"callable": step}}


def _run_once(
    service: Service,
    engine: Engine,
    actor: Actor,
    name: str,
    steps: list[dict[str, Any]],
) -> Run:
    """Create a flow, run it once in this process, and return the finished run."""
    flow = service.flows.create(actor, name=name, definition={"steps": steps})
    run_id = service.runs.trigger(actor, flow.id).id
    engine.work_once("w1")
    return service.runs.get(actor, run_id)


def _sendgrid_flow(service: Service, actor: Actor) -> str:
    service.connections.create(
        actor, app="sendgrid", name="SendGrid", fields={"api_key": GOOD_SENDGRID}
    )
    return service.flows.create(
        actor,
        name="Scopes",
        definition={
            "steps": [
                {"id": "scopes", "app": "sendgrid", "type": "http", "http": {"path": "/v3/scopes"}},
                {
                    "id": "echo",
                    "app": "sendgrid",
                    "type": "python",
                    "python": {"callable": "echo_auth"},
                },
            ]
        },
    ).id


def test_a_run_with_an_http_and_a_python_step(
    service: Service, engine: Engine, actor: Actor, providers: FakeProviders
) -> None:
    flow_id = _sendgrid_flow(service, actor)
    queued = service.runs.trigger(actor, flow_id, {"who": "ada"})
    assert queued.status == "queued"
    assert engine.work_once("w1") == queued.id
    assert engine.work_once("w1") is None
    run = service.runs.get(actor, queued.id)
    assert run.status == "succeeded", run.error_message
    scopes, echo = run.steps
    assert scopes.output == {"status": 200, "body": {"scopes": ["mail.send"]}}
    assert echo.output == {"key": "••••", "who": "ada", "scopes": ["mail.send"]}
    assert GOOD_SENDGRID not in run.model_dump_json()
    assert [r.id for r in service.runs.list(actor, flow_id=flow_id, status="succeeded")] == [run.id]


def test_a_rejected_key_fails_the_run_and_marks_the_connection(
    service: Service, engine: Engine, actor: Actor, providers: FakeProviders
) -> None:
    flow_id = _sendgrid_flow(service, actor)
    providers.accepted.discard(GOOD_SENDGRID)
    run_id = service.runs.trigger(actor, flow_id, {"who": "ada"}).id
    engine.work_once("w1")
    run = service.runs.get(actor, run_id)
    assert run.status == "failed" and run.error_code == "auth_failed"
    assert run.failed_step == "scopes" and run.failed_connection_id
    assert "SendGrid" in (run.error_message or "") or "sendgrid" in (run.error_message or "")
    connection = service.connections.get(actor, run.failed_connection_id)
    assert connection.status == "inactive"
    assert [(s.step_id, s.status) for s in run.steps] == [
        ("scopes", "failed"),
        ("echo", "skipped"),
    ], "the step it never reached reads skipped, not pending"


def test_revoke_fail_reconnect_retry(
    oauth_service: Service, oauth_engine: Engine, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    service, engine, actor = oauth_service, oauth_engine, oauth_actor
    connection_id = connect(service, actor, sandbox)
    flow_id = service.flows.create(
        actor,
        name="Who am I",
        definition={
            "steps": [{"id": "me", "app": "sandbox", "type": "http", "http": {"path": "/api/me"}}]
        },
    ).id
    first = service.runs.trigger(actor, flow_id).id
    engine.work_once("w1")
    assert service.runs.get(actor, first).status == "succeeded"

    sandbox.control("revoke")
    sandbox.state.access.clear()
    failed_id = service.runs.trigger(actor, flow_id).id
    engine.work_once("w1")
    failed = service.runs.get(actor, failed_id)
    assert failed.status == "failed" and failed.error_code == "connection_inactive"
    assert failed.failed_connection_id == connection_id
    assert connection_id in (failed.error_message or "")
    assert service.connections.get(actor, connection_id).status == "inactive"
    assert [r.id for r in service.runs.list(actor, connection_id=connection_id)] == [
        failed_id,
        first,
    ]

    session = service.authorizations.start(actor, connection_id=connection_id)
    service.system.complete_authorization(sandbox.consent(session.authorize_url or ""))
    retried = service.runs.retry(actor, failed_id)
    assert retried.retry_of == failed_id
    assert [s.status for s in retried.steps] == ["pending"], "a re-run starts afresh"
    engine.work_once("w1")
    assert service.runs.get(actor, retried.id).status == "succeeded"


def test_a_token_refreshed_mid_run_reaches_the_later_steps(
    oauth_service: Service, oauth_engine: Engine, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    service, engine, actor = oauth_service, oauth_engine, oauth_actor
    connection_id = connect(service, actor, sandbox)
    sandbox.state.access.clear()  # the first step's 401 makes the proxy refresh
    run = _run_once(
        service, engine, actor, "Refresh mid-run", [ME, _python("code", "sandbox_token")]
    )
    assert run.status == "succeeded", run.error_message
    assert sandbox.token_requests("refresh_token") == 1
    current = service.credentials.resolve(actor, connection_id).fields["access_token"]
    # The python step saw the refreshed token (its output is masked, so compare the tail).
    assert run.steps[1].output == {"token_tail": current[-6:]}


def test_outputs_mask_tokens_refreshed_during_the_run(
    oauth_service: Service, oauth_engine: Engine, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    service, engine, actor = oauth_service, oauth_engine, oauth_actor
    connect(service, actor, sandbox)
    sandbox.state.access.clear()
    run = _run_once(service, engine, actor, "Leaky", [ME, _python("leak", "leak_token")])
    assert run.steps[1].output == {"token": "••••"}
    assert "sbx_at_" not in run.model_dump_json()


def test_runs_abandoned_by_a_dead_worker_fail_instead_of_running_twice(
    service: Service, engine: Engine, actor: Actor, providers: FakeProviders
) -> None:
    from datetime import timedelta

    from gatekey.store import runs as run_rows

    flow_id = _sendgrid_flow(service, actor)
    run_id = service.runs.trigger(actor, flow_id, {"who": "ada"}).id
    with service.context.db.write() as conn:
        assert run_rows.claim_next(conn, "dead-worker", service.context.now()) == run_id
    assert engine.fail_abandoned_runs(timedelta(minutes=30)) == 0, "not old enough yet"
    real = service.context.clock
    service.context.clock = lambda: real() + timedelta(minutes=31)
    assert engine.fail_abandoned_runs(timedelta(minutes=30)) == 1
    lost = service.runs.get(actor, run_id)
    assert lost.status == "failed" and lost.error_code == "worker_lost"
    assert [s.status for s in lost.steps] == ["skipped", "skipped"]
    assert engine.work_once("w2") is None, "it is not queued again"
    assert service.runs.retry(actor, run_id).status == "queued"


def test_declared_scopes_are_checked_before_the_provider_says_403(
    oauth_service: Service, oauth_engine: Engine, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    from gatekey.errors import MissingScopes

    service, engine, actor = oauth_service, oauth_engine, oauth_actor
    connection_id = connect(service, actor, sandbox)
    with pytest.raises(MissingScopes) as caught:
        service.credentials.resolve(actor, connection_id, required_scopes=["tasks.write"])
    assert caught.value.details["missing"] == ["tasks.write"]
    assert service.credentials.resolve(actor, connection_id, required_scopes=["tasks.read"])
    diagnosis = service.connections.diagnose(actor, connection_id, ["tasks.read", "tasks.write"])
    assert not diagnosis.ok and diagnosis.missing_scopes == ["tasks.write"]
    assert diagnosis.granted_scopes == ["profile", "tasks.read"]
    flow = service.flows.create(
        actor,
        name="Writes",
        definition={
            "steps": [
                {
                    "id": "write",
                    "app": "sandbox",
                    "scopes": ["tasks.write"],
                    "type": "http",
                    "http": {"method": "POST", "path": "/api/me"},
                }
            ]
        },
    )
    run_id = service.runs.trigger(actor, flow.id).id
    engine.work_once("w1")
    run = service.runs.get(actor, run_id)
    assert run.error_code == "missing_scopes" and run.failed_connection_id == connection_id
    assert "tasks.write" in (run.error_message or "")
    assert sandbox.state.counts.get("api", 0) == 1, "only connect's test request reached it"


def test_step_output_with_nul_and_nan_is_stored_on_every_database(
    oauth_service: Service, oauth_engine: Engine, oauth_actor: Actor, sandbox: Sandbox
) -> None:
    service, engine, actor = oauth_service, oauth_engine, oauth_actor
    connect(service, actor, sandbox)
    run = _run_once(service, engine, actor, "Odd values", [_python("odd", "odd_values")])
    assert run.status == "succeeded", run.error_message
    (step,) = run.steps
    assert step.output == {"text": "a\ufffdb", "nan": "nan", "inf": "inf", "k\ufffd": ["-inf"]}
    assert step.logs is not None and "printed\ufffdnul" in step.logs


def test_a_header_filled_with_cr_lf_from_run_input_is_refused_before_sending(
    service: Service, engine: Engine, actor: Actor, providers: FakeProviders
) -> None:
    """It used to reach the HTTP client, whose refusal surfaced as a misleading 502."""
    service.connections.create(
        actor, app="sendgrid", name="SendGrid", fields={"api_key": GOOD_SENDGRID}
    )
    step = {
        "id": "scopes",
        "app": "sendgrid",
        "type": "http",
        "http": {"path": "/v3/scopes", "headers": {"X-Who": "{{ input.who }}"}},
    }
    flow = service.flows.create(actor, name="Who", definition={"steps": [step]})

    service.runs.trigger(actor, flow.id, {"who": "ada"})
    engine.work_once("w1")
    assert providers.requests[-1].headers["X-Who"] == "ada"
    sent = len(providers.requests)
    run_id = service.runs.trigger(actor, flow.id, {"who": "ada\r\nX-Evil: 1"}).id
    engine.work_once("w1")

    run = service.runs.get(actor, run_id)
    assert (run.status, run.error_code, run.failed_step) == ("failed", "template_error", "scopes")
    assert "X-Who" in (run.error_message or "")
    assert "X-Evil" not in (run.error_message or "") + run.steps[0].model_dump_json()
    assert len(providers.requests) == sent


def test_a_stored_flow_with_cr_lf_in_a_header_fails_its_run_naming_the_header(
    service: Service, engine: Engine, actor: Actor, providers: FakeProviders
) -> None:
    """A flow stored before header text was checked: its run fails saying what to fix."""
    service.connections.create(
        actor, app="sendgrid", name="SendGrid", fields={"api_key": GOOD_SENDGRID}
    )
    step = {"id": "scopes", "app": "sendgrid", "type": "http", "http": {"path": "/v3/scopes"}}
    flow = service.flows.create(actor, name="Old", definition={"steps": [step]})
    step["http"] = {"path": "/v3/scopes", "headers": {"X-Trace": "1\r\nX-Evil: 1"}}
    with service.context.db.write() as conn:  # as a version before the header checks stored it
        conn.execute(
            update(flows).where(flows.c.id == flow.id).values(definition={"steps": [step]})
        )
    sent = len(providers.requests)

    run_id = service.runs.trigger(actor, flow.id).id
    engine.work_once("w1")

    run = service.runs.get(actor, run_id)
    assert (run.status, run.error_code) == ("failed", "invalid_fields")
    assert "steps.0.http.headers.X-Trace" in (run.error_message or "")
    assert "carriage return (CR)" in (run.error_message or "")
    assert len(providers.requests) == sent


@pytest.fixture
def world(settings: Settings) -> Iterator[SlackWorld]:
    with slack_world(settings) as opened:
        yield opened


def _post_run(world: SlackWorld, channel: str) -> Run:
    """Run a flow of one step posting to a Slack channel, through ``world``'s connection."""
    step = {
        "id": "post",
        "app": "slack-test",
        "connection": world.connection_id,
        "type": "http",
        "http": {"method": "POST", "path": "/chat.postMessage", "body": {"channel": channel}},
    }
    return _run_once(world.runtime.service, world.runtime.engine, world.actor, "Post", [step])


def test_a_step_slack_answered_ok_false_fails_with_slacks_error(world: SlackWorld) -> None:
    run = _post_run(world, "C404")
    assert run.status == "failed" and run.error_code == "step_failed"
    assert (
        run.error_message
        == "step post: slack-test reported a failure (HTTP 200: channel_not_found)"
    )
    (post,) = run.steps
    assert post.status == "failed" and post.error_message == run.error_message
    assert (
        world.runtime.service.connections.get(world.actor, world.connection_id).status == "active"
    )


def test_a_step_slack_answered_ok_succeeds(world: SlackWorld) -> None:
    run = _post_run(world, "C0001")
    assert run.status == "succeeded", run.error_message
    assert run.steps[0].output == {
        "status": 200,
        "body": {"ok": True, "channel": "C0001", "ts": "1.2"},
    }


def test_a_token_the_body_calls_expired_is_refreshed_and_the_step_succeeds(
    world: SlackWorld,
) -> None:
    world.slack.expire(FIRST_TOKEN)
    run = _post_run(world, "C0001")
    assert run.status == "succeeded", run.error_message
    assert world.slack.refreshes == 1


def test_a_token_still_expired_after_the_refresh_fails_the_run_and_the_connection(
    world: SlackWorld,
) -> None:
    world.slack.expire(FIRST_TOKEN)
    world.slack.issue_as = "expired"
    run = _post_run(world, "C0001")
    assert run.status == "failed" and run.error_code == "auth_failed"
    assert run.error_message == (
        f"slack-test refused connection {world.connection_id} (HTTP 200: token_expired) even "
        "after a refresh; reconnect it"
    )
    connection = world.runtime.service.connections.get(world.actor, world.connection_id)
    assert connection.status == "inactive" and connection.status_message == run.error_message
    assert "CANARY" not in run.model_dump_json() + connection.model_dump_json()


def test_a_steps_version_header_replaces_the_apps_overridable_one(
    service: Service, engine: Engine, actor: Actor, providers: FakeProviders
) -> None:
    providers.accepted.add(NOTION_KEY)
    service.apps.add(actor, notion_like())
    service.connections.create(actor, app="notion-test", name="N", fields={"api_key": NOTION_KEY})
    providers.requests.clear()
    step = {
        "id": "me",
        "app": "notion-test",
        "type": "http",
        "http": {"path": "/users/me", "headers": {"notion-version": "2026-03-11"}},
    }
    run = _run_once(service, engine, actor, "Who", [step])
    assert run.status == "succeeded", run.error_message
    (sent,) = providers.requests
    assert sent.headers.get_list("notion-version") == ["2026-03-11"]
    assert sent.headers["authorization"] == f"Bearer {NOTION_KEY}"

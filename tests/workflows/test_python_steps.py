"""python steps: only registered code runs, in a child that cannot reach the server's secrets,
and nothing a step does stops a run worker."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gatekey.errors import InvalidFields
from gatekey.runtime import Runtime, open_runtime, run_engine, step_sandbox
from gatekey.service import Actor, Service
from gatekey.settings import Settings
from gatekey.store import flows as flow_rows
from gatekey.workers.runner import RunWorker
from gatekey.workflows.engine import Engine
from gatekey.workflows.registry import StepRegistry
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders

PROBE = [
    "logging.config:fileConfig",
    "venv.__main__:x",
    "unittest.__main__:x",
    "gatekey.__main__:main",
    "pty:spawn",
    "builtins:print",
    "os:system",
    "os.system",
    "tests.fakes.steps:not_registered",
]


def _definition(step: str, step_id: str = "code") -> dict[str, object]:
    return {
        "steps": [
            {"id": step_id, "app": "sendgrid", "type": "python", "python": {"callable": step}}
        ]
    }


def _connect(service: Service, actor: Actor) -> str:
    return service.connections.create(
        actor, app="sendgrid", name="SendGrid", fields={"api_key": GOOD_SENDGRID}
    ).id


def _run(service: Service, engine: Engine, actor: Actor, flow_id: str, data: object = None) -> str:
    run_id = service.runs.trigger(actor, flow_id, data).id
    assert engine.work_once("w1") == run_id
    return run_id


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture
def steps_runtime(tmp_path: Path, database_url: str, providers: FakeProviders) -> Iterator[Runtime]:
    """A runtime with a master key *file* (as ``gatekey serve`` makes) and short step limits."""
    settings = Settings(
        home=tmp_path / "home",
        database_url=database_url,
        master_keys=None,
        audit_flush_interval=0.05,
        step_timeout_seconds=1.5,
        step_memory_mb=256,
    )
    runtime = open_runtime(settings, transport=providers.transport())
    yield runtime
    runtime.close()


def test_the_probes_callables_are_refused_when_the_flow_is_defined(
    service: Service, engine: Engine, actor: Actor, providers: FakeProviders
) -> None:
    for reference in PROBE:
        with pytest.raises(InvalidFields) as caught:
            service.flows.create(actor, name="Probe", definition=_definition(reference))
        fields = [e["field"] for e in caught.value.details["errors"]]
        assert fields == ["steps.0.python.callable"], (reference, caught.value.details)
        assert "not a registered step" in caught.value.details["errors"][0]["message"]
    assert service.flows.list(actor) == []
    flow = service.flows.create(actor, name="Fine", definition=_definition("good"))
    with pytest.raises(InvalidFields):
        service.flows.update(actor, flow.id, definition=_definition("os:system"))
    assert service.flows.get(actor, flow.id).definition["steps"][0]["python"] == {
        "callable": "good"
    }


def test_an_unregistered_step_stored_earlier_fails_the_run_before_it_runs(
    service: Service,
    engine: Engine,
    actor: Actor,
    providers: FakeProviders,
    capfd: pytest.CaptureFixture[str],
) -> None:
    _connect(service, actor)
    flow = service.flows.create(actor, name="Old", definition=_definition("good"))
    with service.context.db.write() as conn:  # as a flow written before registration existed
        flow_rows.set_values(
            conn, actor.project_id, flow.id, {"definition": _definition("builtins:print")}
        )
    run = service.runs.get(actor, _run(service, engine, actor, flow.id, {"x": "printed-CANARY"}))
    assert run.status == "failed" and run.error_code == "step_not_registered"
    assert run.failed_step == "code" and run.steps[0].status == "failed"
    assert "printed-CANARY" not in "".join(capfd.readouterr())


def test_a_registration_removed_since_fails_the_run(
    runtime: Runtime, engine: Engine, actor: Actor, providers: FakeProviders
) -> None:
    service = runtime.service
    _connect(service, actor)
    flow = service.flows.create(actor, name="Gone", definition=_definition("good"))
    assert service.runs.get(actor, _run(service, engine, actor, flow.id)).status == "succeeded"
    # The same deployment restarted with the step's registration removed.
    registry = StepRegistry({"other": "tests.fakes.steps:good"})
    restarted = run_engine(service, registry, step_sandbox(runtime.settings))
    run = service.runs.get(actor, _run(service, restarted, actor, flow.id))
    assert run.error_code == "step_not_registered"


def test_a_registered_module_function_still_names_its_step(
    service: Service, engine: Engine, actor: Actor, providers: FakeProviders
) -> None:
    _connect(service, actor)
    flow = service.flows.create(
        actor, name="Path", definition=_definition("tests.fakes.steps:good")
    )
    run = service.runs.get(actor, _run(service, engine, actor, flow.id))
    assert run.status == "succeeded", run.error_message
    assert run.steps[0].output == {"ok": True, "apps": ["sendgrid"]}


@pytest.mark.skipif(os.geteuid() != 0, reason="as another user only when Gatekey is root")
def test_a_step_cannot_read_the_key_file_or_the_servers_environment_and_its_prints_are_masked(
    steps_runtime: Runtime,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    service, engine = steps_runtime.service, steps_runtime.engine
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    key_file = steps_runtime.settings.master_key_file
    assert key_file.exists()
    _connect(service, actor)
    flow = service.flows.create(actor, name="Snoop", definition=_definition("snoop"))
    caplog.set_level(logging.DEBUG)
    run = service.runs.get(
        actor,
        _run(service, engine, actor, flow.id, {"paths": [str(key_file), str(key_file.parent)]}),
    )
    assert run.status == "succeeded", run.error_message
    seen = run.steps[0].output
    assert all(v.startswith("refused:") for v in seen["paths"].values()), seen["paths"]
    assert seen["gatekey_env"] == []
    assert seen["parent_environ"].startswith("refused:")
    assert "GATEKEY" not in seen["self_environ"]
    logs = run.steps[0].logs or ""
    assert "credential: ••••" in logs and "credential on stderr: ••••" in logs
    assert GOOD_SENDGRID not in run.model_dump_json()
    out, err = capfd.readouterr()
    assert GOOD_SENDGRID not in caplog.text + out + err
    assert "credential" not in caplog.text + out + err, "step output never reaches the logs"


def test_steps_past_their_limits_fail_the_run_and_leave_no_process(steps_runtime: Runtime) -> None:
    service, engine = steps_runtime.service, steps_runtime.engine
    project, _ = service.system.bootstrap()
    actor = Actor.operator(project.id)
    _connect(service, actor)
    for step, code in (("sleepy", "step_timeout"), ("hog", "step_memory_exceeded")):
        flow = service.flows.create(actor, name=step, definition=_definition(step))
        run = service.runs.get(actor, _run(service, engine, actor, flow.id))
        assert run.status == "failed" and run.error_code == code, run.error_message
        assert run.failed_step == "code" and run.steps[0].error_code == code
        found = re.search(r"pids ([\d ]+)", run.steps[0].logs or "")
        assert found, run.steps[0].logs
        assert not any(_alive(int(pid)) for pid in found.group(1).split())


def test_steps_that_exit_or_crash_never_stop_the_worker_pool(
    service: Service, engine: Engine, actor: Actor, providers: FakeProviders
) -> None:
    _connect(service, actor)
    bad = ["exit_on_import", "exits", "interrupts", "hard_exit"]
    flows = {
        s: service.flows.create(actor, name=s, definition=_definition(s)).id for s in [*bad, "good"]
    }
    queued = [(s, service.runs.trigger(actor, flows[s]).id) for s in bad * 2]
    queued += [("good", service.runs.trigger(actor, flows["good"]).id) for _ in range(2)]
    worker = RunWorker(engine, threads=2, idle_wait=0.05)
    worker.start()
    try:
        deadline = time.monotonic() + 120  # a hang guard only
        while time.monotonic() < deadline:
            states = {service.runs.get(actor, r).status for _, r in queued}
            if states <= {"succeeded", "failed"}:
                break
            time.sleep(0.1)
    finally:
        worker.stop()
    for step, run_id in queued:
        run = service.runs.get(actor, run_id)
        if step == "good":
            assert run.status == "succeeded", (step, run.status, run.error_message)
        else:
            assert (run.status, run.error_code) == ("failed", "step_exited"), (step, run)
            assert "exit" in (run.error_message or "")

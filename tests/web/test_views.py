"""``web.views``: who acted reads as a name, and a step that never ran reads "Skipped"."""

from __future__ import annotations

from datetime import UTC, datetime

from gatekey.models import Run
from gatekey.web.views import Who, step_status, who

KEYS = {"key_01HZZZZZZZZZZZZZZZZZZZZZZZ": "ops laptop"}


def test_who_acted_is_named_never_a_bare_key_id() -> None:
    assert who("key_01HZZZZZZZZZZZZZZZZZZZZZZZ", KEYS) == Who("ops laptop", "API key")
    assert who("operator", KEYS) == Who("operator")
    assert who("signin-link", KEYS) == Who("admin (signed in by link)")
    assert who("run:run_01HA", KEYS) == Who("run_01HA", "run", "/runs/run_01HA")
    assert who("webhook:flow_01HB", KEYS).href == "/flows#flow-flow_01HB"
    assert who("key_01HGONE", KEYS).label == "an API key no longer listed"


def _run(status: str, *steps: str) -> Run:
    return Run.model_validate(
        {
            "id": "run_01HA",
            "flow_id": "flow_01HB",
            "status": status,
            "trigger": "manual",
            "input": {},
            "created_at": datetime.now(UTC),
            "steps": [{"step_id": f"s{i}", "status": s} for i, s in enumerate(steps)],
        }
    )


def test_a_step_that_never_ran_reads_skipped_once_the_run_ended() -> None:
    ended = _run("failed", "failed", "pending")
    assert [step_status(ended, s) for s in ended.steps] == [("Failed", "bad"), ("Skipped", "")]
    waiting = _run("running", "succeeded", "pending")
    assert step_status(waiting, waiting.steps[1]) == ("Pending", "")

"""Runs, the queue API: trigger a flow, read and list its runs, retry a failed one.

A run is queued with the flow's current definition and its input; a retry is queued with the
original input and links to the run it repeats. Executing runs is ``workflows.engine``'s, on
the resolver and the proxy, called by the run workers (``workers.runner``).
"""

from __future__ import annotations

import builtins
import json
from typing import Any

from gatekey import ids
from gatekey.domain.inputs import checked_arguments
from gatekey.domain.pagination import check_limit
from gatekey.domain.runs import StepStatus
from gatekey.errors import (
    InvalidId,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
)
from gatekey.models import Run, RunStep
from gatekey.service.actor import Actor, authorize, within_flow
from gatekey.service.context import Context
from gatekey.service.flows import Flows
from gatekey.store import audit as audit_rows
from gatekey.store import runs as rows
from gatekey.store.flow_rows import RunRow, RunStepRow

MAX_INPUT = 64 * 1024


def _run_of(row: RunRow, steps: list[RunStepRow]) -> Run:
    return Run(
        id=row.id,
        flow_id=row.flow_id,
        status=row.status,
        trigger=row.trigger,
        input=row.input,
        error_code=row.error_code,
        error_message=row.error_message,
        failed_step=row.failed_step,
        failed_connection_id=row.failed_connection_id,
        retry_of=row.retry_of,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        steps=[
            RunStep(
                step_id=s.step_id,
                connection_id=s.connection_id,
                status=s.status,
                output=s.output,
                error_code=s.error_code,
                error_message=s.error_message,
                duration_ms=s.duration_ms,
                logs=s.logs,
            )
            for s in steps
        ],
    )


@checked_arguments
class Runs:
    """Trigger, read, list and retry runs."""

    def __init__(self, ctx: Context, flows: Flows) -> None:
        self.ctx = ctx
        self.flows = flows

    def trigger(
        self, actor: Actor, flow_id: str, run_input: Any = None, *, trigger: str = "manual"
    ) -> Run:
        """Queue a run of the flow's current definition."""
        authorize(actor, "trigger_run")
        flow = self.flows.get(actor, flow_id)
        data = {} if run_input is None else run_input
        if not isinstance(data, dict):
            raise InvalidInput("the run input must be an object")
        if len(json.dumps(data)) > MAX_INPUT:
            raise PayloadTooLarge("the run input is larger than 64 KiB")
        return self._queue(actor, flow.id, flow.version, flow.definition, data, trigger, None)

    def _queue(
        self,
        actor: Actor,
        flow_id: str,
        version: int,
        definition: dict[str, Any],
        data: dict[str, Any],
        trigger: str,
        retry_of: str | None,
    ) -> Run:
        run_id = ids.new_id("run")
        now = self.ctx.now()
        steps = [
            {
                "run_id": run_id,
                "step_id": step["id"],
                "position": index,
                "status": StepStatus.PENDING.value,
            }
            for index, step in enumerate(definition["steps"])
        ]
        with self.ctx.db.write() as conn:
            rows.insert(
                conn,
                {
                    "id": run_id,
                    "project_id": actor.project_id,
                    "flow_id": flow_id,
                    "flow_version": version,
                    "status": "queued",
                    "trigger": trigger,
                    "input": data,
                    "retry_of": retry_of,
                    "created_at": now,
                },
                steps,
            )
            audit_rows.record_now(
                conn, [self.ctx.event(actor, "run.queue", "run", run_id, flow=flow_id)]
            )
        return self.get(actor, run_id)

    def get(self, actor: Actor, run_id: str) -> Run:
        authorize(actor, "get_run")
        if not isinstance(run_id, str) or not ids.is_valid("run", run_id):
            raise InvalidId("run ids look like run_ followed by 26 characters")
        with self.ctx.db.read() as conn:
            row = rows.get(conn, actor.project_id, run_id)
            if row is None:
                raise NotFound(f"run {run_id} not found", id=run_id)
            within_flow(actor, row.flow_id, NotFound(f"run {run_id} not found", id=run_id))
            return _run_of(row, rows.steps_of(conn, run_id))

    def list(
        self,
        actor: Actor,
        *,
        flow_id: str | None = None,
        status: str | None = None,
        connection_id: str | None = None,
        limit: int = 50,
    ) -> builtins.list[Run]:
        authorize(actor, "list_runs")
        if status is not None and status not in ("queued", "running", "succeeded", "failed"):
            raise InvalidInput("status must be queued, running, succeeded or failed")
        check_limit(limit, 200)
        with self.ctx.db.read() as conn:
            found = rows.page(
                conn,
                actor.project_id,
                flow_id=flow_id,
                status=status,
                connection_id=connection_id,
                limit=limit,
            )
            return [_run_of(r, rows.steps_of(conn, r.id)) for r in found]

    def retry(self, actor: Actor, run_id: str) -> Run:
        """Queue a failed run again, with its original input, linked to it."""
        authorize(actor, "retry_run")
        failed = self.get(actor, run_id)
        if failed.status != "failed":
            raise InvalidInput(f"only failed runs can be retried; this one is {failed.status}")
        flow = self.flows.get(actor, failed.flow_id)
        return self._queue(
            actor, flow.id, flow.version, flow.definition, failed.input, "retry", failed.id
        )


__all__ = ["Runs"]

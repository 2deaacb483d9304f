"""Runs: trigger a flow, claim queued runs, execute their steps with fresh credentials.

Before any step runs, every connection the run needs is resolved (OAuth2 tokens refreshed
once if due), so a revoked connection fails the run at once with an error that names it.
http steps go through the proxy (the flow never holds a token; a 401 is refreshed and retried
once); python steps run only registered code, in a child process (``workflows.sandbox``),
and get ``auths.<app>.<field>`` of their own connection only. A run that failed can be retried
with its original input; the retry links to the run it repeats.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from typing import Any

from gatekey import ids
from gatekey.catalog.schema import AuthKind
from gatekey.domain import flows as flow_rules
from gatekey.domain import masking
from gatekey.domain.connection import Change
from gatekey.domain.roles import Internal
from gatekey.errors import (
    AuthFailed,
    ConnectionInactive,
    GatekeyError,
    InvalidId,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    StepFailed,
    StepNotRegistered,
)
from gatekey.models import Credentials, Run, RunStep
from gatekey.service.base import Actor
from gatekey.service.flows import FlowsMixin
from gatekey.service.proxy import ProxyMixin
from gatekey.store import audit as audit_rows
from gatekey.store import connections as connection_rows
from gatekey.store import flows as flow_rows
from gatekey.store import runs as rows
from gatekey.workflows import steps as step_rules

log = logging.getLogger(__name__)
MAX_INPUT = 64 * 1024


def _run_of(row: Any, steps: list[Any]) -> Run:
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


class RunsMixin(ProxyMixin, FlowsMixin):
    """Trigger, list, retry and execute runs."""

    def trigger_run(
        self, actor: Actor, flow_id: str, run_input: Any = None, *, trigger: str = "manual"
    ) -> Run:
        """Queue a run of the flow's current definition."""
        self._authorize(actor, "trigger_run")
        flow = self.get_flow(actor, flow_id)
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
        now = self.clock()
        steps = [
            {
                "run_id": run_id,
                "step_id": step["id"],
                "position": index,
                "status": "pending",
            }
            for index, step in enumerate(definition["steps"])
        ]
        with self.db.write() as conn:
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
                conn, [self._event(actor, "run.queue", "run", run_id, flow=flow_id)]
            )
        return self.get_run(actor, run_id)

    def get_run(self, actor: Actor, run_id: str) -> Run:
        self._authorize(actor, "get_run")
        if not isinstance(run_id, str) or not ids.is_valid("run", run_id):
            raise InvalidId("run ids look like run_ followed by 26 characters")
        with self.db.read() as conn:
            row = rows.get(conn, actor.project_id, run_id)
            if row is None:
                raise NotFound(f"run {run_id} not found", id=run_id)
            return _run_of(row, list(rows.steps_of(conn, run_id)))

    def list_runs(
        self,
        actor: Actor,
        *,
        flow_id: str | None = None,
        status: str | None = None,
        connection_id: str | None = None,
        limit: int = 50,
    ) -> list[Run]:
        self._authorize(actor, "list_runs")
        if status is not None and status not in ("queued", "running", "succeeded", "failed"):
            raise InvalidInput("status must be queued, running, succeeded or failed")
        if not 1 <= limit <= 200:
            raise InvalidInput("limit must be between 1 and 200")
        with self.db.read() as conn:
            found = rows.page(
                conn,
                actor.project_id,
                flow_id=flow_id,
                status=status,
                connection_id=connection_id,
                limit=limit,
            )
            return [_run_of(r, list(rows.steps_of(conn, r.id))) for r in found]

    def retry_run(self, actor: Actor, run_id: str) -> Run:
        """Queue a failed run again, with its original input, linked to it."""
        self._authorize(actor, "retry_run")
        failed = self.get_run(actor, run_id)
        if failed.status != "failed":
            raise InvalidInput(f"only failed runs can be retried; this one is {failed.status}")
        flow = self.get_flow(actor, failed.flow_id)
        return self._queue(
            actor, flow.id, flow.version, flow.definition, failed.input, "retry", failed.id
        )

    # -- execution ------------------------------------------------------------------------------

    def fail_abandoned_runs(self, older_than: timedelta) -> int:
        """Fail runs that have been ``running`` longer than ``older_than``: their worker died.

        They are failed, not re-queued, so no run's steps ever execute twice; people retry.
        """
        now = self.clock()
        with self.db.write() as conn:
            return rows.fail_abandoned(conn, now - older_than, now)

    def work_once(self, worker: str) -> str | None:
        """Claim the oldest queued run and execute it; return its id, or None if none waits.

        A run that stops on anything unexpected (``BaseException`` included) is failed at once
        as ``internal_error`` rather than left running until it counts as abandoned.
        """
        with self.db.write() as conn:
            run_id = rows.claim_next(conn, worker, self.clock())
        if run_id is None:
            return None
        try:
            self.execute_run(run_id)
        except BaseException as exc:
            log.error("run %s stopped on %s", run_id, type(exc).__name__, exc_info=exc)
            self._end_run(
                run_id,
                "failed",
                "internal_error",
                f"the run stopped on an internal error ({type(exc).__name__})",
                None,
                None,
            )
            if not isinstance(exc, Exception):
                raise
        return run_id

    def execute_run(self, run_id: str) -> None:
        with self.db.read() as conn:
            row = rows.by_id(conn, run_id)
            flow_row = flow_rows.get(conn, row.project_id, row.flow_id) if row else None
        if row is None:
            return
        actor = Actor(project_id=row.project_id, key_id=f"run:{run_id}", role=Internal.RUN)
        if flow_row is None:
            self._end_run(run_id, "failed", "not_found", "the flow was deleted", None, None)
            return
        try:
            definition = flow_rules.parse(flow_row.definition)
            self._check_registered(definition)
            resolved = self._resolve_all(actor, run_id, definition)
        except _StepError as exc:
            failed = {"error_code": exc.error.code, "error_message": exc.error.message}
            self._record_step(run_id, exc.step, {"status": "failed", **failed})
            self._end_run(run_id, "failed", exc.error.code, exc.error.message, exc.step, exc.cid)
            return
        except GatekeyError as exc:
            self._end_run(run_id, "failed", exc.code, exc.message, None, None)
            return
        context: dict[str, Any] = {"input": row.input, "steps": {}}
        secrets = [v for creds in resolved.values() for v in _field_secrets(creds)]
        for step in definition.steps:
            creds = resolved[step.id]
            began = time.monotonic()
            self._record_step(
                run_id, step.id, {"status": "running", "connection_id": creds.connection_id}
            )
            try:
                output, logs = self._execute_step(actor, step, creds, context, secrets)
            except GatekeyError as exc:
                self._record_step(
                    run_id,
                    step.id,
                    {
                        "status": "failed",
                        "error_code": exc.code,
                        "error_message": step_rules.redact(exc.message, secrets),
                        "duration_ms": int((time.monotonic() - began) * 1000),
                        "logs": step_rules.recorded_logs(exc.details.get("logs", ""), secrets),
                    },
                )
                self._end_run(
                    run_id,
                    "failed",
                    exc.code,
                    step_rules.redact(exc.message, secrets),
                    step.id,
                    creds.connection_id,
                )
                return
            shown = step_rules.redact(step_rules.jsonable(output), secrets)
            context["steps"][step.id] = {"output": output}
            self._record_step(
                run_id,
                step.id,
                {
                    "status": "succeeded",
                    "output": shown,
                    "duration_ms": int((time.monotonic() - began) * 1000),
                    "logs": step_rules.recorded_logs(logs, secrets),
                },
            )
        self._end_run(run_id, "succeeded", None, None, None, None)

    def _check_registered(self, definition: flow_rules.FlowDefinition) -> None:
        """Refuse, before any step runs, a python step whose name is not (or no longer)
        registered: a flow stored before registration existed, or a registration removed."""
        for step in definition.steps:
            if step.python is not None and step.python.callable not in self.step_registry:
                raise _StepError(
                    StepNotRegistered(
                        f"step {step.id}: {step.python.callable!r} is not a registered step"
                    ),
                    step.id,
                    None,
                )

    def _resolve_all(
        self, actor: Actor, run_id: str, definition: flow_rules.FlowDefinition
    ) -> dict[str, Credentials]:
        """Resolve every connection the run needs before the first step runs."""
        out: dict[str, Credentials] = {}
        for step in definition.steps:
            connection_id = step.connection
            if connection_id == "default":
                with self.db.read() as conn:
                    found = connection_rows.default_for(conn, actor.project_id, step.app)
                if found is None:
                    raise _StepError(
                        NotFound(f"there is no default {step.app} connection for step {step.id}"),
                        step.id,
                        None,
                    )
                connection_id = found
            try:
                out[step.id] = self.resolve_credentials(
                    actor, connection_id, required_scopes=step.scopes
                )
            except GatekeyError as exc:
                raise _StepError(exc, step.id, connection_id) from None
        return out

    def _execute_step(
        self,
        actor: Actor,
        step: flow_rules.Step,
        creds: Credentials,
        context: dict[str, Any],
        secrets: list[str],
    ) -> tuple[Any, str]:
        """Run one step; return its output and what it printed. Add the credential values it
        used to ``secrets`` (for masking)."""
        if step.python is not None:
            target = self.step_registry.resolve(step.python.callable)
            if target is None:
                raise StepNotRegistered(
                    f"step {step.id}: {step.python.callable!r} is not a registered step"
                )
            # Resolved again: an earlier step may have refreshed the token; never a stale copy.
            creds = self.resolve_credentials(actor, creds.connection_id)
            secrets.extend(_field_secrets(creds))
            auths = {step.app: dict(creds.fields)}
            outputs = {k: v["output"] for k, v in context["steps"].items()}
            result = self.step_sandbox.run(step.id, target, context["input"], auths, outputs)
            return result.output, result.logs
        assert step.http is not None
        http = step.http
        path = str(flow_rules.render(http.path, context))
        query = {k: str(v) for k, v in flow_rules.render(http.query, context).items()}
        headers = flow_rules.render_headers(http.headers, context)
        body = b""
        if http.body is not None:
            body = json.dumps(flow_rules.render(http.body, context)).encode()
            headers.setdefault("Content-Type", "application/json")
        answer = self.proxy(
            actor,
            creds.connection_id,
            http.method,
            path.split("?", 1)[0],
            query=query,
            headers=headers,
            body=body,
        )
        secrets.extend(answer.secrets)
        output = step_rules.response_output(
            answer.status, answer.headers.get("content-type", ""), answer.body
        )
        if answer.status in (creds.expired_token_status or [401]):
            message = (
                f"{creds.app} refused connection {creds.connection_id} "
                f"(HTTP {answer.status}) even after a refresh; reconnect it"
            )
            self._deauthorize(actor, creds, message)
            raise AuthFailed(message, id=creds.connection_id)
        if answer.status >= 400:
            raise StepFailed(f"step {step.id}: {creds.app} answered HTTP {answer.status}")
        return output, ""

    def _deauthorize(self, actor: Actor, creds: Credentials, message: str) -> None:
        """A definitive refusal: mark the connection inactive so people see it."""
        if creds.auth_kind is AuthKind.OAUTH2_CLIENT_CREDENTIALS:
            return
        with self.db.write() as conn:
            self.writer.set_status(
                conn,
                actor.project_id,
                creds.connection_id,
                Change.CREDENTIALS_REFUSED,
                self.clock(),
                message=message,
            )

    def _record_step(self, run_id: str, step_id: str, values: dict[str, Any]) -> None:
        with self.db.write() as conn:
            rows.set_step(conn, run_id, step_id, step_rules.storable(values))

    def _end_run(
        self,
        run_id: str,
        status: str,
        code: str | None,
        message: str | None,
        step: str | None,
        connection_id: str | None,
    ) -> None:
        with self.db.write() as conn:
            rows.set_run(
                conn,
                run_id,
                {
                    "status": status,
                    "error_code": code,
                    "error_message": step_rules.storable(message),
                    "failed_step": step,
                    "failed_connection_id": connection_id,
                    "finished_at": self.clock(),
                },
            )
        log.info("run %s %s%s", run_id, status, f" ({code})" if code else "")


def _field_secrets(creds: Credentials) -> list[str]:
    """Every string a step is handed, but those that only describe a token (``Bearer``)."""
    return [
        v for k, v in creds.fields.items() if isinstance(v, str) and k not in masking.DESCRIPTIVE
    ]


class _StepError(Exception):
    def __init__(self, error: GatekeyError, step: str, cid: str | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.step = step
        self.cid = cid


__all__ = ["AuthFailed", "ConnectionInactive", "RunsMixin", "StepFailed"]

"""Execute runs: claim a queued run, resolve its connections, run its steps, record the outcome.

Before any step runs, every connection the run needs is resolved (OAuth2 tokens refreshed once
if due), so a revoked connection fails the run at once with an error that names it. http steps
go through the proxy (the flow never holds a token; a 401, or a body the app's ``expired_when``
reads as expired, is refreshed and retried once; a 2xx whose body fails the app's ``ok_when``
fails the step with the app's own error, as Slack's ``{"ok": false}``); python steps run only
registered code, in a child process (``workflows.sandbox``), and get ``auths.<app>.<field>`` of
their own connection only. What is recorded (outputs, messages, logs) is masked with every
credential value the run was handed.

The engine sits below the service: it acts for a run through the resolver and the proxy it is
given (typed here as the two small protocols it needs), never through the service itself. The
queue API (trigger, get, list, retry) stays in ``service.runs``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from gatekey.catalog.schema import AuthKind
from gatekey.domain import answers, masking
from gatekey.domain import flows as flow_rules
from gatekey.domain.actor import Actor
from gatekey.domain.connection import Change
from gatekey.domain.roles import Internal
from gatekey.errors import AuthFailed, GatekeyError, NotFound, StepFailed, StepNotRegistered
from gatekey.models import Credentials
from gatekey.store import connections as connection_rows
from gatekey.store import flows as flow_rows
from gatekey.store import runs as rows
from gatekey.store.connection_writer import ConnectionWriter
from gatekey.store.database import Database
from gatekey.workflows import steps as step_rules
from gatekey.workflows.registry import StepRegistry
from gatekey.workflows.sandbox import StepSandbox

log = logging.getLogger(__name__)
MAX_SAID = 300


class CredentialSource(Protocol):
    """What resolves a connection for a step (``service.credentials.Resolver``); only the
    part the engine calls, so the protocol says what a run needs, not all a resolver does."""

    def resolve(
        self, actor: Actor, connection_id: str, *, required_scopes: Sequence[str] = ()
    ) -> Credentials: ...


class Answer(Protocol):
    """The app's answer to a proxied request (``service.proxy.Proxied``)."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> dict[str, str]: ...
    @property
    def body(self) -> bytes: ...
    @property
    def secrets(self) -> tuple[str, ...]: ...


class Proxy(Protocol):
    """What sends an http step's request with the connection's auth applied (``proxy``)."""

    def __call__(
        self,
        actor: Actor,
        connection_id: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Answer: ...


class Engine:
    """Claim and execute queued runs; fail those whose worker died (``workers.runner``)."""

    def __init__(
        self,
        db: Database,
        resolver: CredentialSource,
        proxy: Proxy,
        registry: StepRegistry,
        sandbox: StepSandbox,
        writer: ConnectionWriter,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._resolver = resolver
        self._proxy = proxy
        self._registry = registry
        self._sandbox = sandbox
        self._writer = writer
        self._clock = clock

    def fail_abandoned_runs(self, older_than: timedelta) -> int:
        """Fail runs that have been ``running`` longer than ``older_than``: their worker died.

        They are failed, not re-queued, so no run's steps ever execute twice; people retry.
        """
        now = self._clock()
        with self._db.write() as conn:
            return rows.fail_abandoned(conn, now - older_than, now)

    def work_once(self, worker: str) -> str | None:
        """Claim the oldest queued run and execute it; return its id, or None if none waits.

        A run that stops on anything unexpected (``BaseException`` included) is failed at once
        as ``internal_error`` rather than left running until it counts as abandoned.
        """
        with self._db.write() as conn:
            run_id = rows.claim_next(conn, worker, self._clock())
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
        """Execute a claimed run to its end, recording each step as it goes."""
        with self._db.read() as conn:
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
            resolved = self._resolve_all(actor, definition)
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
            if step.python is not None and step.python.callable not in self._registry:
                raise _StepError(
                    StepNotRegistered(
                        f"step {step.id}: {step.python.callable!r} is not a registered step"
                    ),
                    step.id,
                    None,
                )

    def _resolve_all(
        self, actor: Actor, definition: flow_rules.FlowDefinition
    ) -> dict[str, Credentials]:
        """Resolve every connection the run needs before the first step runs."""
        out: dict[str, Credentials] = {}
        for step in definition.steps:
            connection_id = step.connection
            if connection_id == "default":
                with self._db.read() as conn:
                    found = connection_rows.default_for(conn, actor.project_id, step.app)
                if found is None:
                    raise _StepError(
                        NotFound(f"there is no default {step.app} connection for step {step.id}"),
                        step.id,
                        None,
                    )
                connection_id = found
            try:
                out[step.id] = self._resolver.resolve(
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
            target = self._registry.resolve(step.python.callable)
            if target is None:
                raise StepNotRegistered(
                    f"step {step.id}: {step.python.callable!r} is not a registered step"
                )
            # Resolved again: an earlier step may have refreshed the token; never a stale copy.
            creds = self._resolver.resolve(actor, creds.connection_id)
            secrets.extend(_field_secrets(creds))
            auths = {step.app: dict(creds.fields)}
            outputs = {k: v["output"] for k, v in context["steps"].items()}
            result = self._sandbox.run(step.id, target, context["input"], auths, outputs)
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
        answer = self._proxy(
            actor,
            creds.connection_id,
            http.method,
            path.split("?", 1)[0],
            query=query,
            headers=headers,
            body=body,
        )
        secrets.extend(answer.secrets)
        content_type = answer.headers.get("content-type", "")
        output = step_rules.response_output(answer.status, content_type, answer.body)
        if answers.expired(creds, answer.status, content_type, answer.body, unless=[401]):
            message = (
                f"{creds.app} refused connection {creds.connection_id} "
                f"({self._said(creds, answer, secrets)}) even after a refresh; reconnect it"
            )
            self._deauthorize(actor, creds, message)
            raise AuthFailed(message, id=creds.connection_id)
        if answer.status >= 400:
            raise StepFailed(f"step {step.id}: {creds.app} answered HTTP {answer.status}")
        if answers.failed(creds, answer.status, content_type, answer.body):
            said = self._said(creds, answer, secrets)
            raise StepFailed(f"step {step.id}: {creds.app} reported a failure ({said})")
        return output, ""

    @staticmethod
    def _said(creds: Credentials, answer: Answer, secrets: list[str]) -> str:
        """The answer in a few words, the provider's own masked: ``HTTP 200: invalid_auth``."""
        content_type = answer.headers.get("content-type", "")
        words = answers.said(creds, answer.status, content_type, answer.body)
        return str(step_rules.redact(words, secrets))[:MAX_SAID]

    def _deauthorize(self, actor: Actor, creds: Credentials, message: str) -> None:
        """A definitive refusal: mark the connection inactive so people see it."""
        if creds.auth_kind is AuthKind.OAUTH2_CLIENT_CREDENTIALS:
            return
        with self._db.write() as conn:
            self._writer.set_status(
                conn,
                actor.project_id,
                creds.connection_id,
                Change.CREDENTIALS_REFUSED,
                self._clock(),
                message=message,
            )

    def _record_step(self, run_id: str, step_id: str, values: dict[str, Any]) -> None:
        with self._db.write() as conn:
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
        with self._db.write() as conn:
            rows.set_run(
                conn,
                run_id,
                {
                    "status": status,
                    "error_code": code,
                    "error_message": step_rules.storable(message),
                    "failed_step": step,
                    "failed_connection_id": connection_id,
                    "finished_at": self._clock(),
                },
            )
            if status == "failed":
                rows.end_steps(conn, [run_id])
        log.info("run %s %s%s", run_id, status, f" ({code})" if code else "")


def _field_secrets(creds: Credentials) -> list[str]:
    """Every string a step is handed, but those that only describe a token (``Bearer``)."""
    return [
        v for k, v in creds.fields.items() if isinstance(v, str) and k not in masking.DESCRIPTIVE
    ]


class _StepError(Exception):
    """A step that failed before any step ran, with the connection it failed on."""

    def __init__(self, error: GatekeyError, step: str, cid: str | None) -> None:
        super().__init__(error.message)
        self.error = error
        self.step = step
        self.cid = cid

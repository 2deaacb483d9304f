"""Runs: ``POST /api/v1/flows/{id}/runs``, ``/api/v1/runs``, ``/api/v1/runs/{id}/retry``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from gatekey.api.deps import ActorDep, ServiceDep, SettingsDep
from gatekey.api.schemas import ReplaceBody
from gatekey.models import Run

router = APIRouter(prefix="/api/v1", tags=["runs"])
RunId = Annotated[str, Path(max_length=64, examples=["run_01JD3W6ZK2Q8V5N0C7H9X4T1RB"])]
FlowId = Annotated[str, Path(max_length=64)]


@router.post("/flows/{flow_id}/runs", response_model=Run, status_code=202)
def trigger_run(
    flow_id: FlowId,
    actor: ActorDep,
    service: ServiceDep,
    body: Annotated[dict[str, Any] | None, Body(description="the run's input")] = None,
) -> Run:
    """Queue a run; a worker executes it (poll ``GET /runs/{id}``)."""
    return service.runs.trigger(actor, flow_id, body or {})


@router.get("/runs", response_model=list[Run])
def list_runs(
    actor: ActorDep,
    service: ServiceDep,
    flow: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    connection: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[Run]:
    return service.runs.list(
        actor, flow_id=flow, status=status, connection_id=connection, limit=limit
    )


@router.get("/runs/{run_id}", response_model=Run)
def get_run(run_id: RunId, actor: ActorDep, service: ServiceDep) -> Run:
    return service.runs.get(actor, run_id)


@router.post("/runs/{run_id}/retry", response_model=Run, status_code=202)
def retry_run(run_id: RunId, actor: ActorDep, service: ServiceDep) -> Run:
    """Queue a failed run again with its original input."""
    return service.runs.retry(actor, run_id)


@router.post("/flows/{flow_id}/webhook", status_code=201)
def rotate_webhook(
    flow_id: FlowId, actor: ActorDep, service: ServiceDep, settings: SettingsDep
) -> dict[str, str]:
    """Create or rotate the flow's webhook URL (shown once; the old one stops working)."""
    secret = service.flows.rotate_webhook(actor, flow_id)
    return {"url": f"{settings.origin}/hooks/{flow_id}/{secret}"}


@router.post("/connections/{connection_id}/replace")
def replace_connection(
    connection_id: Annotated[str, Path(max_length=64)],
    body: ReplaceBody,
    actor: ActorDep,
    service: ServiceDep,
) -> dict[str, int]:
    """Move every flow step that names this connection to another one of the same app."""
    return {"moved": service.flows.replace_connection(actor, connection_id, body.replacement)}


hooks = APIRouter(tags=["runs"])


@hooks.post("/hooks/{flow_id}/{secret}", status_code=202)
def webhook(
    flow_id: FlowId,
    secret: Annotated[str, Path(max_length=100)],
    service: ServiceDep,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> dict[str, str]:
    """Trigger a run from outside; the secret in the path is the credential."""
    actor = service.system.webhook_actor(flow_id, secret)
    run = service.runs.trigger(actor, flow_id, body or {}, trigger="webhook")
    return {"run_id": run.id, "status": run.status}

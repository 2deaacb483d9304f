"""``/api/v1/flows``: flows whose steps use connections."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from gatekey.api.deps import ActorDep, ServiceDep
from gatekey.api.schemas import FlowCreate, FlowUpdate
from gatekey.models import Flow

router = APIRouter(prefix="/api/v1/flows", tags=["flows"])
FlowId = Annotated[str, Path(max_length=64, examples=["flow_01JD3W6ZK2Q8V5N0C7H9X4T1RB"])]


@router.get("", response_model=list[Flow])
def list_flows(actor: ActorDep, service: ServiceDep, connection: str | None = None) -> list[Flow]:
    return service.flows.list(actor, connection_id=connection)


@router.post("", response_model=Flow, status_code=201)
def create_flow(body: FlowCreate, actor: ActorDep, service: ServiceDep) -> Flow:
    return service.flows.create(
        actor, name=body.name, definition=body.definition, description=body.description
    )


@router.get("/{flow_id}", response_model=Flow)
def get_flow(flow_id: FlowId, actor: ActorDep, service: ServiceDep) -> Flow:
    return service.flows.get(actor, flow_id)


@router.patch("/{flow_id}", response_model=Flow)
def update_flow(flow_id: FlowId, body: FlowUpdate, actor: ActorDep, service: ServiceDep) -> Flow:
    return service.flows.update(
        actor, flow_id, name=body.name, definition=body.definition, description=body.description
    )


@router.delete("/{flow_id}", status_code=204)
def delete_flow(flow_id: FlowId, actor: ActorDep, service: ServiceDep) -> Response:
    service.flows.delete(actor, flow_id)
    return Response(status_code=204)

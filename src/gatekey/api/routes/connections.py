"""``/api/v1/connections``: create, list, read, change, delete, test, and resolve credentials."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from gatekey.api.deps import ActorDep, ServiceDep, SpendingActorDep
from gatekey.api.schemas import ConnectionCreate, ConnectionUpdate, CredentialsRequest
from gatekey.domain.connection import Status
from gatekey.models import (
    AuditEvent,
    Connection,
    ConnectionPage,
    ConnectionUsage,
    Credentials,
    Deleted,
    Diagnosis,
    TestResult,
)

router = APIRouter(prefix="/api/v1/connections", tags=["connections"])
ConnectionId = Annotated[str, Path(max_length=64, examples=["conn_01JD3W6ZK2Q8V5N0C7H9X4T1RB"])]


@router.get("", response_model=ConnectionPage)
def list_connections(
    actor: ActorDep,
    service: ServiceDep,
    status: Status | None = None,
    app: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=200, description="free text")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConnectionPage:
    return service.connections.list(
        actor,
        status=status.value if status else None,
        app=app,
        text=q,
        cursor=cursor,
        limit=limit,
    )


@router.post("", response_model=Connection, status_code=201)
def create_connection(body: ConnectionCreate, actor: ActorDep, service: ServiceDep) -> Connection:
    return service.connections.create(
        actor,
        app=body.app,
        name=body.name,
        fields=body.fields,
        config=body.config,
        auth_kind=body.auth_kind,
        metadata=body.metadata,
        is_default=body.is_default,
        validate=not body.skip_test,
        scopes=body.scopes,
    )


@router.get("/{connection_id}", response_model=Connection)
def get_connection(connection_id: ConnectionId, actor: ActorDep, service: ServiceDep) -> Connection:
    return service.connections.get(actor, connection_id)


@router.patch("/{connection_id}", response_model=Connection)
def update_connection(
    connection_id: ConnectionId, body: ConnectionUpdate, actor: ActorDep, service: ServiceDep
) -> Connection:
    return service.connections.update(
        actor,
        connection_id,
        name=body.name,
        is_default=body.is_default,
        metadata=body.metadata,
        fields=body.fields,
        config=body.config,
        validate=not body.skip_test,
    )


@router.delete("/{connection_id}", response_model=Deleted)
def delete_connection(
    connection_id: ConnectionId,
    actor: ActorDep,
    service: ServiceDep,
    force: Annotated[bool, Query(description="delete even if flows use it")] = False,
) -> Deleted:
    """Delete; answers 409 ``connection_in_use`` naming the flows unless ``force``."""
    return service.connections.delete(actor, connection_id, force=force)


@router.get("/{connection_id}/usage", response_model=ConnectionUsage)
def connection_usage(
    connection_id: ConnectionId, actor: ActorDep, service: ServiceDep
) -> ConnectionUsage:
    """The flows, and their steps, that use this connection (as the app default included)."""
    return service.flows.usage(actor, connection_id)


@router.post("/{connection_id}/credentials", response_model=Credentials)
async def resolve_credentials(
    connection_id: ConnectionId,
    actor: SpendingActorDep,
    service: ServiceDep,
    body: CredentialsRequest | None = None,
) -> Response:
    """Return the credentials an execution needs, refreshing an expiring OAuth2 token first.

    Audited; never cached. Send ``stale_token`` when the app refused the token as expired.
    """
    stale = body.stale_token.get_secret_value() if body and body.stale_token else None
    scopes = body.required_scopes if body else []
    # on the event loop when the resolution cannot wait on a network (SQLite, a connection
    # that needs no token request): the hop to the thread pool cost more than the resolution
    credentials = service.credentials.resolve_here(
        actor, connection_id, stale_token=stale, required_scopes=scopes
    )
    if credentials is None:
        credentials = await run_in_threadpool(
            service.credentials.resolve,
            actor,
            connection_id,
            stale_token=stale,
            required_scopes=scopes,
        )
    # serialized here: the model is the service's own, built from validated data, so the
    # route skips FastAPI's validation of what it returns
    return Response(
        credentials.model_dump_json(),
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@router.get("/{connection_id}/diagnosis", response_model=Diagnosis)
def diagnose_connection(
    connection_id: ConnectionId,
    actor: ActorDep,
    service: ServiceDep,
    scopes: Annotated[list[str] | None, Query(description="scopes the caller needs")] = None,
) -> Diagnosis:
    """Whether the connection is active and was granted the scopes a caller needs."""
    return service.connections.diagnose(actor, connection_id, scopes or [])


@router.post("/{connection_id}/test", response_model=TestResult)
def test_connection(
    connection_id: ConnectionId, actor: ActorDep, service: ServiceDep
) -> TestResult:
    return service.connections.test(actor, connection_id)


@router.get("/{connection_id}/audit", response_model=list[AuditEvent])
def connection_audit(
    connection_id: ConnectionId,
    actor: ActorDep,
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEvent]:
    return service.connections.audit_trail(actor, connection_id, limit)

"""``/api/v1/audit``: the project's audit trail and the check of its hash chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gatekey.api.deps import ActorDep, ServiceDep
from gatekey.models import AuditEvent, AuditVerification

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=list[AuditEvent])
def project_audit(
    actor: ActorDep,
    service: ServiceDep,
    object_id: Annotated[str | None, Query(alias="object", max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEvent]:
    """The newest entries first; ``object`` narrows to one connection, app, flow or key."""
    return service.audit.events(actor, object_id=object_id, limit=limit)


@router.get("/verify", response_model=AuditVerification)
def verify_audit(actor: ActorDep, service: ServiceDep) -> AuditVerification:
    """Recompute the project's hash chain: ``ok`` is false if an entry was edited or removed."""
    return service.audit.verify(actor)

"""``/api/v1/apps``: the catalog."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from gatekey.api.deps import ActorDep, ServiceDep
from gatekey.catalog.schema import public_view
from gatekey.models import AppSummary

router = APIRouter(prefix="/api/v1/apps", tags=["apps"])


@router.get("", response_model=list[AppSummary])
def list_apps(
    actor: ActorDep, service: ServiceDep, q: str | None = Query(default=None, max_length=200)
) -> list[AppSummary]:
    return service.list_apps(actor, q)


@router.get("/{key}")
def get_app(key: str, actor: ActorDep, service: ServiceDep) -> dict[str, Any]:
    return public_view(service.get_app(actor, key))

"""``/api/v1/apps``: the catalog, and the apps a project adds to it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Response

from gatekey.api.deps import ActorDep, ServiceDep
from gatekey.catalog.schema import App, public_view
from gatekey.models import AppSummary
from gatekey.service import Service

router = APIRouter(prefix="/api/v1/apps", tags=["apps"])

Definition = Body(
    description="An app definition in the catalog's schema (see any `GET /api/v1/apps/{key}`)."
)


def _view(service: Service, app: App) -> dict[str, Any]:
    return {**public_view(app), "source": service.context.registry.source(app)}


@router.get("", response_model=list[AppSummary])
def list_apps(
    actor: ActorDep, service: ServiceDep, q: str | None = Query(default=None, max_length=200)
) -> list[AppSummary]:
    return service.apps.list(actor, q)


@router.post("", status_code=201)
def add_app(
    actor: ActorDep, service: ServiceDep, definition: dict[str, Any] = Definition
) -> dict[str, Any]:
    """Add an app to the project (admin keys); it shows wherever catalog apps do."""
    return _view(service, service.apps.add(actor, definition))


@router.get("/{key}")
def get_app(key: str, actor: ActorDep, service: ServiceDep) -> dict[str, Any]:
    return _view(service, service.apps.get(actor, key))


@router.put("/{key}")
def replace_app(
    key: str, actor: ActorDep, service: ServiceDep, definition: dict[str, Any] = Definition
) -> dict[str, Any]:
    """Replace one of the project's apps; auth kinds its connections use must stay."""
    return _view(service, service.apps.replace(actor, key, definition))


@router.delete("/{key}", status_code=204)
def delete_app(key: str, actor: ActorDep, service: ServiceDep) -> Response:
    """Delete one of the project's apps that no connection or flow uses."""
    service.apps.delete(actor, key)
    return Response(status_code=204)

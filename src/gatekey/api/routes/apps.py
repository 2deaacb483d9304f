"""``/api/v1/apps``: the catalog, and the apps a project adds to it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict

from gatekey.api.deps import ActorDep, ServiceDep
from gatekey.catalog.categories import Category
from gatekey.catalog.schema import App, AuthKind, public_view
from gatekey.models import AppCategory, AppSummary
from gatekey.service import Service
from gatekey.service.preparation import Preparation, with_preparations

router = APIRouter(prefix="/api/v1/apps", tags=["apps"])

Definition = Body(
    description="An app definition in the catalog's schema (see any `GET /api/v1/apps/{key}`)."
)


class MethodDocument(BaseModel):
    """An auth method as the catalog's schema has it, and what to prepare for it."""

    model_config = ConfigDict(extra="allow")

    kind: AuthKind
    prepare: Preparation


class AppDocument(BaseModel):
    """An app definition in the catalog's schema, with where it comes from; each auth method
    has a computed ``prepare`` block (never part of a definition sent back)."""

    model_config = ConfigDict(extra="allow")

    key: str
    name: str
    source: Literal["builtin", "directory", "project"]
    auth: list[MethodDocument]


def _document(status: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": AppDocument, "description": "The app definition"}}


def _view(service: Service, app: App) -> dict[str, Any]:
    view = {**public_view(app), "source": service.context.registry.source(app)}
    return with_preparations(view, app, service.authorizations.callback_url)


@router.get("", response_model=list[AppSummary])
def list_apps(
    actor: ActorDep,
    service: ServiceDep,
    q: Annotated[
        str | None,
        Query(max_length=200, description="text in the key, name, description or a category"),
    ] = None,
    category: Annotated[
        Category | None, Query(description="only apps filed under this category")
    ] = None,
    auth_kind: Annotated[
        AuthKind | None, Query(description="only apps offering this auth kind")
    ] = None,
) -> list[AppSummary]:
    """The catalog and the project's own apps, by name; filters combine."""
    return service.apps.list(actor, q, category=category, auth_kind=auth_kind)


@router.get("/categories", response_model=list[AppCategory])
def list_categories(actor: ActorDep, service: ServiceDep) -> list[AppCategory]:
    """The categories the project's apps are filed under, with how many apps each."""
    return service.apps.categories(actor)


@router.post("", status_code=201, responses=_document(201))
def add_app(
    actor: ActorDep, service: ServiceDep, definition: dict[str, Any] = Definition
) -> dict[str, Any]:
    """Add an app to the project (admin keys); it shows wherever catalog apps do."""
    return _view(service, service.apps.add(actor, definition))


@router.get("/{key}", responses=_document(200))
def get_app(key: str, actor: ActorDep, service: ServiceDep) -> dict[str, Any]:
    """An app's definition, and per auth method what to prepare before connecting."""
    return _view(service, service.apps.get(actor, key))


@router.put("/{key}", responses=_document(200))
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

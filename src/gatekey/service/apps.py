"""Apps: the catalog every project shares, plus the apps a project adds through the API."""

from __future__ import annotations

import builtins
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from gatekey.catalog.categories import CATEGORIES
from gatekey.catalog.loader import Catalog, app_from_data
from gatekey.catalog.schema import KEY_PATTERN, App, AuthKind, public_view
from gatekey.domain.inputs import checked_arguments
from gatekey.errors import (
    AppExists,
    AppInUse,
    InvalidAppDefinition,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from gatekey.models import AppCategory, AppSummary
from gatekey.service.actor import Actor, authorize
from gatekey.service.context import Context
from gatekey.store import apps as app_rows
from gatekey.store import audit as audit_rows

MAX_DEFINITION_BYTES = 64 * 1024
_KEY = re.compile(KEY_PATTERN)


def _definition(definition: Any) -> App:
    """Validate a definition sent through the API with the schema the catalog files use."""
    if not isinstance(definition, dict):
        raise InvalidAppDefinition("an app definition is a JSON object")
    size = len(json.dumps(definition, default=str).encode())
    if size > MAX_DEFINITION_BYTES:
        raise PayloadTooLarge(f"an app definition may be at most {MAX_DEFINITION_BYTES} bytes")
    if "builtin" in definition:
        raise InvalidAppDefinition(
            "builtin is set by Gatekey, not by a definition",
            errors=[{"field": "builtin", "message": "not allowed here"}],
        )
    return app_from_data({**definition, "builtin": False}, "app definition")


@dataclass(frozen=True)
class _Filters:
    category: str | None
    auth_kind: AuthKind | None

    @property
    def any(self) -> bool:
        return self.category is not None or self.auth_kind is not None

    def admit(self, app: App) -> bool:
        if self.category is not None and self.category not in app.categories:
            return False
        return self.auth_kind is None or any(m.kind is self.auth_kind for m in app.auth)


def _filters(category: str | None, auth_kind: str | None) -> _Filters:
    """The listing's filters, each one of its known values or refused, naming them all."""
    problems = []
    if category is not None and category not in CATEGORIES:
        problems.append({"field": "category", "message": "must be one of " + ", ".join(CATEGORIES)})
    kinds = [k.value for k in AuthKind]
    if auth_kind is not None and auth_kind not in kinds:
        problems.append({"field": "auth_kind", "message": "must be one of " + ", ".join(kinds)})
    if problems:
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise InvalidInput(f"invalid filter: {summary}", errors=problems)
    return _Filters(category, AuthKind(auth_kind) if auth_kind is not None else None)


def _mentions(app: App, needle: str) -> bool:
    return (
        not needle
        or needle in app.key
        or needle in app.name.casefold()
        or needle in app.description.casefold()
        or any(needle in c for c in app.categories)
    )


def stored_definition(app: App) -> dict[str, Any]:
    view = public_view(app)
    view.pop("builtin", None)
    return view


@checked_arguments
class ProjectApps:
    """List and show apps; add, replace and delete the actor's project apps."""

    def __init__(self, ctx: Context, catalog: Catalog) -> None:
        self.ctx = ctx
        self.catalog = catalog

    def list(
        self,
        actor: Actor,
        text: str | None = None,
        *,
        category: str | None = None,
        auth_kind: str | None = None,
    ) -> builtins.list[AppSummary]:
        """The usable apps by name, then the project's refused ones: those whose key, name,
        description or category holds ``text`` (any case), filed under ``category``, offering
        ``auth_kind``."""
        authorize(actor, "list_apps")
        wanted = _filters(category, auth_kind)
        needle = (text or "").casefold()
        apps, unusable = self.ctx.registry.listing(actor.project_id)
        usable = [
            AppSummary.of(app, self.ctx.registry.source(app))
            for app in apps
            if _mentions(app, needle) and wanted.admit(app)
        ]
        if wanted.any:
            return usable  # a refused app has no categories or auth kinds to match
        refused = [
            AppSummary(
                key=r.key,
                name=r.key,
                description="",
                categories=[],
                docs_url="",
                auth_kinds=[],
                builtin=False,
                source="project",
                problem=r.message,
            )
            for r in unusable
            if not needle or needle in r.key
        ]
        return usable + refused

    def categories(self, actor: Actor) -> builtins.list[AppCategory]:
        """The categories the project's usable apps are filed under, by name, with counts."""
        authorize(actor, "list_apps")
        apps = self.ctx.registry.all(actor.project_id)
        counts = Counter(c for app in apps for c in app.categories)
        return [AppCategory(category=c, count=n) for c, n in sorted(counts.items())]

    def get(self, actor: Actor, key: str) -> App:
        authorize(actor, "get_app")
        return self.ctx.registry.get(actor.project_id, key)

    def add(self, actor: Actor, definition: Any) -> App:
        """Add an app to the actor's project; it is validated like a catalog file."""
        authorize(actor, "add_app")
        app = _definition(definition)
        if app.key in self.catalog:
            raise AppExists(f"the catalog already has an app {app.key!r}; pick another key")
        try:
            with self.ctx.db.write() as conn:
                app_rows.insert(
                    conn, actor.project_id, app.key, stored_definition(app), self.ctx.now()
                )
                audit_rows.record_now(
                    conn, [self.ctx.event(actor, "app.create", "app", app.key, name=app.name)]
                )
        except IntegrityError:
            raise AppExists(f"this project already has an app {app.key!r}") from None
        return self.ctx.registry.get(actor.project_id, app.key)

    def replace(self, actor: Actor, key: str, definition: Any) -> App:
        """Replace a project app's definition; auth kinds its connections use must stay."""
        authorize(actor, "replace_app")
        self._own_app_key(key)
        if isinstance(definition, dict) and "key" not in definition:
            definition = {**definition, "key": key}
        app = _definition(definition)
        if app.key != key:
            raise InvalidInput(f"the definition's key {app.key!r} is not {key!r}; keys stay")
        with self.ctx.db.write() as conn:
            if app_rows.get(conn, actor.project_id, key) is None:
                raise NotFound(f"this project has no app {key!r}", app=key)
            kept = {m.kind.value for m in app.auth}
            dropped = {
                k: n
                for k, n in app_rows.auth_kinds_in_use(conn, actor.project_id, key).items()
                if k not in kept
            }
            if dropped:
                kinds = ", ".join(sorted(dropped))
                raise AppInUse(
                    f"{sum(dropped.values())} connection(s) use the auth kind(s) {kinds} that "
                    "the new definition drops; keep them or delete those connections first",
                    connections=sum(dropped.values()),
                )
            app_rows.replace(conn, actor.project_id, key, stored_definition(app), self.ctx.now())
            audit_rows.record_now(
                conn, [self.ctx.event(actor, "app.update", "app", key, name=app.name)]
            )
        return self.ctx.registry.get(actor.project_id, key)

    def delete(self, actor: Actor, key: str) -> None:
        """Delete a project app no connection or flow uses, with its OAuth client."""
        authorize(actor, "delete_app")
        self._own_app_key(key)
        with self.ctx.db.write() as conn:
            if app_rows.get(conn, actor.project_id, key) is None:
                raise NotFound(f"this project has no app {key!r}", app=key)
            used = sum(app_rows.auth_kinds_in_use(conn, actor.project_id, key).values())
            users = app_rows.flows_using(conn, actor.project_id, key)
            if used or users:
                raise AppInUse(
                    f"{used} connection(s) and {len(users)} flow(s) use {key!r}; "
                    "delete the connections and change the flows first",
                    connections=used,
                    flows=users,
                )
            app_rows.remove(conn, actor.project_id, key)
            audit_rows.record_now(conn, [self.ctx.event(actor, "app.delete", "app", key)])

    def _own_app_key(self, key: str) -> None:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise InvalidInput("app keys are lower-case letters, digits, '-' and '_'")
        if key in self.catalog:
            raise PermissionDenied(
                f"{key!r} is a catalog app; the operator changes those (GATEKEY_APPS_DIR)"
            )

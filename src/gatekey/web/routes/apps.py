"""The Apps page: the catalog with search, category and auth-kind filters, and per app what a
person must prepare (setup page and steps, the redirect URI, scopes, deprecations)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from gatekey.asgi import ServiceDep
from gatekey.catalog.categories import CATEGORIES
from gatekey.catalog.schema import App, AuthKind, AuthMethod
from gatekey.models import AppSummary
from gatekey.service import Service
from gatekey.service.preparation import Preparation, prepare
from gatekey.web.deps import PageSession
from gatekey.web.render import page
from gatekey.web.views import KIND_LABELS

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class MethodView:
    """One auth method of an entry as the page shows it."""

    kind: str
    label: str
    """The auth kind as people call it (OAuth2, API key)."""
    name: str
    """The method's own label when it has one (GitHub's names its OAuth app), else ``label``."""
    ready: Preparation
    use_instead: str | None


@dataclass(frozen=True)
class Entry:
    """An app on the page: its summary, and its methods with what to prepare (none for an
    app its project stored under older checks, which cannot be used)."""

    app: AppSummary
    methods: list[MethodView]


def _method(method: AuthMethod, callback_url: str) -> MethodView:
    gone = method.deprecated.use_instead if method.deprecated else None
    label = KIND_LABELS.get(method.kind.value, method.kind.value)
    return MethodView(
        kind=method.kind.value,
        label=label,
        name=method.label or label,
        ready=prepare(method, callback_url),
        use_instead=KIND_LABELS.get(gone, gone) if gone else None,
    )


def _entries(service: Service, session: PageSession, found: list[AppSummary]) -> list[Entry]:
    callback = service.authorizations.callback_url
    entries = []
    for summary in found:
        app: App | None = None
        if summary.problem is None:
            app = service.context.registry.find(session.actor.project_id, summary.key)
        methods = [_method(m, callback) for m in app.auth] if app else []
        entries.append(Entry(summary, methods))
    return entries


@router.get("/apps", response_class=HTMLResponse)
def apps_page(
    session: PageSession,
    service: ServiceDep,
    q: str = "",
    category: str = "",
    auth_kind: str = "",
) -> HTMLResponse:
    q = q.strip()[:100]
    asked = ((category, CATEGORIES), (auth_kind, KIND_LABELS))
    unknown = [value for value, known in asked if value and value not in known]
    category = category if category in CATEGORIES else ""
    auth_kind = auth_kind if auth_kind in KIND_LABELS else ""
    found = service.apps.list(
        session.actor, q or None, category=category or None, auth_kind=auth_kind or None
    )
    return page(
        "apps.html",
        session=session,
        nav="apps",
        entries=_entries(service, session, found),
        q=q,
        category=category,
        auth_kind=auth_kind,
        categories=service.apps.categories(session.actor),
        kinds={k.value: KIND_LABELS.get(k.value, k.value) for k in AuthKind},
        unknown=unknown,
        filtered=bool(q or category or auth_kind),
    )

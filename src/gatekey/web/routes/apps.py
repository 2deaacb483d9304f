"""The Apps page: the catalog with search, auth kinds, docs links, and a shortcut to connect."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from gatekey.asgi import ServiceDep
from gatekey.web.deps import PageSession
from gatekey.web.render import page
from gatekey.web.views import KIND_LABELS

router = APIRouter(include_in_schema=False)


@router.get("/apps", response_class=HTMLResponse)
def apps_page(session: PageSession, service: ServiceDep, q: str = "") -> HTMLResponse:
    q = q.strip()[:100]
    return page(
        "apps.html",
        session=session,
        nav="apps",
        apps=service.apps.list(session.actor, q or None),
        q=q,
        kinds=KIND_LABELS,
    )

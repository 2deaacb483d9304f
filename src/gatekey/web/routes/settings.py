"""Settings: the project's OAuth clients (add one for an OAuth2 app, remove one)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, JSONResponse

from gatekey.asgi import ServiceDep
from gatekey.catalog.schema import AuthKind
from gatekey.errors import GatekeyError
from gatekey.web.deps import PageSession, PostSession
from gatekey.web.errors import fragment_error
from gatekey.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(session: PageSession, service: ServiceDep) -> HTMLResponse:
    clients = service.oauth_clients.list(session.actor)
    registered = {c.app for c in clients}
    oauth_apps = [
        a
        for a in service.apps.list(session.actor)
        if AuthKind.OAUTH2 in a.auth_kinds and a.key not in registered
    ]
    return page(
        "settings.html",
        session=session,
        clients=clients,
        oauth_apps=oauth_apps,
        callback_url=service.authorizations.callback_url,
    )


@router.post("/settings/oauth-clients")
def add_client(
    session: PostSession,
    service: ServiceDep,
    app: Annotated[str, Form(max_length=64)] = "",
    client_id: Annotated[str, Form(max_length=500)] = "",
    client_secret: Annotated[str, Form(max_length=2000)] = "",
    scopes: Annotated[str, Form(max_length=2000)] = "",
) -> JSONResponse:
    try:
        service.oauth_clients.register(
            session.actor,
            app=app,
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes.split() or None,
        )
    except GatekeyError as exc:
        return fragment_error(exc)
    return JSONResponse({"ok": True, "reload": True})


@router.post("/settings/oauth-clients/{oauth_client_id}/delete")
def remove_client(oauth_client_id: str, session: PostSession, service: ServiceDep) -> JSONResponse:
    try:
        service.oauth_clients.delete(session.actor, oauth_client_id)
    except GatekeyError as exc:
        return fragment_error(exc)
    return JSONResponse({"ok": True, "reload": True})

"""Settings: the project's OAuth clients (add one for an OAuth2 app, a GitHub App or an OAuth
1.0a consumer, remove one)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, JSONResponse

from gatekey.asgi import ServiceDep
from gatekey.errors import GatekeyError
from gatekey.web.deps import PageSession, PostSession
from gatekey.web.errors import fragment_error
from gatekey.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(session: PageSession, service: ServiceDep) -> HTMLResponse:
    clients = service.oauth_clients.list(session.actor)
    registered = {c.app for c in clients}
    oauth_apps = [a for a in service.oauth_clients.apps(session.actor) if a.key not in registered]
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
    private_key: Annotated[str, Form(max_length=16384)] = "",
    scopes: Annotated[str, Form(max_length=2000)] = "",
) -> JSONResponse:
    """Register an OAuth client: a secret, or a PEM private key (a GitHub App's, an OAuth 1.0a
    RSA-SHA1 consumer's) read from a file by the page; one of the two."""
    try:
        service.oauth_clients.register(
            session.actor,
            app=app,
            client_id=client_id,
            client_secret=private_key.strip() or client_secret,
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

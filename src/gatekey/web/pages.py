"""The Connections pages: sign-in, the list with its filters, new connection, the card menu
actions, a detail view, and the OAuth clients settings. Every action calls the service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import escape

from gatekey.api.deps import ServiceDep, client_address
from gatekey.catalog.schema import AuthKind
from gatekey.errors import DatabaseUnavailable, GatekeyError, InvalidFields, RateLimited
from gatekey.models import Connection
from gatekey.service import ConnectionService, WebSession
from gatekey.web.auth import COOKIE, PageSession, PostSession, origin_of, set_session_cookie
from gatekey.web.render import page, render

router = APIRouter(include_in_schema=False)

KIND_LABELS = {
    "oauth2": "OAuth2",
    "oauth2_client_credentials": "OAuth2 client credentials",
    "api_key": "API key",
    "basic": "Basic auth",
    "custom": "Custom",
    "none": "No auth",
}
REASONS = {
    "authorization_pending": "Authorization pending",
    "revoked": "Access revoked",
    "refresh_failed": "Token refresh failed",
    "invalid_credentials": "Credentials rejected",
    "missing_scopes": "Missing permissions",
    "decryption_failed": "Cannot be decrypted",
}


def _card(
    service: ConnectionService, connection: Connection, names: dict[str, str] | None = None
) -> dict[str, Any]:
    if names is None:
        app = service.apps.find(connection.project_id, connection.app)
        names = {app.key: app.name} if app else {}
    return {
        "c": connection,
        "app_name": names.get(connection.app, connection.app),
        "kind": KIND_LABELS.get(connection.auth_kind, connection.auth_kind),
        "reason": REASONS.get(connection.status_reason or "", connection.status_reason or ""),
        "oauth": connection.auth_kind == AuthKind.OAUTH2.value,
    }


def _prefixed(form: Any, prefix: str) -> dict[str, str]:
    """Return the non-empty form values named ``<prefix><name>``, keyed by name."""
    return {
        k[len(prefix) :]: str(v)
        for k, v in form.items()
        if k.startswith(prefix) and isinstance(v, str) and v != ""
    }


def _json_error(exc: GatekeyError, status: int = 400) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "code": exc.code, "message": exc.message}
    if isinstance(exc, InvalidFields):
        body["fields"] = exc.details.get("errors", [])
    if isinstance(exc, DatabaseUnavailable):
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
    return JSONResponse(body, status_code=status)


def _signin_status(exc: GatekeyError) -> int:
    if isinstance(exc, DatabaseUnavailable):
        return 503
    return 429 if isinstance(exc, RateLimited) else 401


# -- sign-in ------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home() -> Response:
    return RedirectResponse("/connections", status_code=303)


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, next: str = "/connections") -> HTMLResponse:
    return page("signin.html", next=_safe_next(next), error=None)


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    service: ServiceDep,
    api_key: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=200)] = "/connections",
) -> Response:
    origin = request.headers.get("origin")
    if origin is not None and origin != origin_of(request):
        return page("signin.html", 403, next="/connections", error="Sign in from this page.")
    try:
        token, _ = service.sign_in(api_key=api_key.strip(), client=client_address(request))
    except GatekeyError as exc:
        status = _signin_status(exc)
        return page("signin.html", status, next=_safe_next(next), error=exc.message)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.get("/signin/{link}", response_class=HTMLResponse)
def signin_link(request: Request, link: str, service: ServiceDep) -> Response:
    try:
        token, _ = service.sign_in(link=link, client=client_address(request))
    except GatekeyError as exc:
        status = _signin_status(exc)
        return page("signin.html", status, next="/connections", error=exc.message)
    response = RedirectResponse("/connections", status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.post("/signout")
def signout(request: Request, session: PostSession, service: ServiceDep) -> Response:
    service.sign_out(request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/connections"


# -- the list -----------------------------------------------------------------------------------


@router.get("/connections", response_class=HTMLResponse)
def connections_page(
    session: PageSession,
    service: ServiceDep,
    status: str = "",
    app: str = "",
    q: str = "",
) -> HTMLResponse:
    actor = session.actor
    status = status if status in ("active", "inactive") else ""
    apps = service.list_apps(actor)
    names = {a.key: a.name for a in apps}
    app = app if app in names else ""
    q = q.strip()[:200]
    shown = service.list_connections(
        actor, status=status or None, app=app or None, text=q or None, limit=200
    ).items
    attention = service.list_connections(actor, status="inactive", limit=200).items
    everything = service.list_connections(actor, limit=200).items
    used_apps = sorted({c.app for c in everything})
    return page(
        "connections.html",
        session=session,
        cards=[_card(service, c, names) for c in shown],
        attention=[_card(service, c, names) for c in attention],
        total=len(everything),
        status_filter=status,
        app=app,
        q=q,
        apps=apps,
        used_apps=[a for a in apps if a.key in used_apps],
    )


@router.get("/connections/new", response_class=HTMLResponse)
def new_connection_form(
    session: PageSession, service: ServiceDep, app: str, connection_id: str = ""
) -> HTMLResponse:
    """The second step of "New connection": a name, then fields or a Connect button.

    With ``connection_id``: new credentials for that connection (same ID).
    """
    try:
        entry = service.get_app(session.actor, app)
    except GatekeyError as exc:
        return HTMLResponse(f"<p class='form-error' role='alert'>{escape(exc.message)}</p>", 400)
    method = entry.method()
    replacing = None
    if connection_id:
        try:
            replacing = service.get_connection(session.actor, connection_id)
            method = entry.method(replacing.auth_kind)
        except (GatekeyError, LookupError):
            return HTMLResponse("<p class='form-error' role='alert'>Connection not found.</p>", 404)
    clients = {c.app for c in service.list_oauth_clients(session.actor)}
    html = render(
        "_new_form.html",
        app=entry,
        method=method,
        kind=KIND_LABELS.get(method.kind.value, method.kind.value),
        oauth=method.kind is AuthKind.OAUTH2,
        has_client=entry.key in clients,
        session=session,
        suggested=f"{entry.name} - ",
        replacing=replacing,
    )
    return HTMLResponse(html)


@router.post("/connections")
async def create_connection(
    request: Request, session: PostSession, service: ServiceDep
) -> JSONResponse:
    form = await request.form()
    app = str(form.get("app", ""))
    name = str(form.get("name", ""))
    fields, config = _prefixed(form, "field."), _prefixed(form, "config.")
    try:
        created = service.create_connection(
            session.actor, app=app, name=name, fields=fields, config=config
        )
    except GatekeyError as exc:
        return _json_error(exc)
    return JSONResponse({"ok": True, "id": created.id, "html": _card_html(service, created)})


@router.post("/connections/{connection_id}/credentials")
async def replace_credentials(
    connection_id: str, request: Request, session: PostSession, service: ServiceDep
) -> JSONResponse:
    form = await request.form()
    fields, config = _prefixed(form, "field."), _prefixed(form, "config.")
    try:
        changed = service.replace_credentials(
            session.actor, connection_id, fields=fields, config=config or None
        )
    except GatekeyError as exc:
        return _json_error(exc)
    return JSONResponse({"ok": True, "id": changed.id, "html": _card_html(service, changed)})


def _card_html(service: ConnectionService, connection: Connection) -> str:
    return render("_card.html", card=_card(service, connection))


@router.post("/connections/oauth")
async def start_oauth(request: Request, session: PostSession, service: ServiceDep) -> JSONResponse:
    form = await request.form()
    connection_id = str(form.get("connection_id", "")) or None
    config = _prefixed(form, "config.")
    try:
        started = service.start_authorization(
            session.actor,
            app=None if connection_id else str(form.get("app", "")),
            name=str(form.get("name", "")) or None,
            connection_id=connection_id,
            config=config or None,
        )
    except GatekeyError as exc:
        return _json_error(exc)
    return JSONResponse(
        {"ok": True, "session_id": started.id, "authorize_url": started.authorize_url}
    )


@router.get("/connections/oauth/{session_id}")
def oauth_status(session_id: str, session: PageSession, service: ServiceDep) -> JSONResponse:
    try:
        state = service.authorization_status(session.actor, session_id)
    except GatekeyError as exc:
        return _json_error(exc, 404)
    return JSONResponse(
        {
            "status": state.status,
            "connection_id": state.connection_id if state.status == "succeeded" else None,
            "error_code": state.error_code,
            "error_message": state.error_message,
        }
    )


@router.get("/connections/{connection_id}/card", response_class=HTMLResponse)
def card(connection_id: str, session: PageSession, service: ServiceDep) -> HTMLResponse:
    try:
        connection = service.get_connection(session.actor, connection_id)
    except GatekeyError as exc:
        return HTMLResponse(exc.message, 404)
    return HTMLResponse(_card_html(service, connection))


# -- the card menu ----------------------------------------------------------------------------


@router.post("/connections/{connection_id}/rename")
def rename(
    connection_id: str,
    session: PostSession,
    service: ServiceDep,
    name: Annotated[str, Form(max_length=1000)] = "",
) -> JSONResponse:
    try:
        changed = service.rename_connection(session.actor, connection_id, name)
    except GatekeyError as exc:
        return _json_error(exc)
    return JSONResponse({"ok": True, "id": changed.id, "html": _card_html(service, changed)})


@router.post("/connections/{connection_id}/default")
def make_default(connection_id: str, session: PostSession, service: ServiceDep) -> Response:
    try:
        service.set_default(session.actor, connection_id)
    except GatekeyError as exc:
        return _json_error(exc)
    return JSONResponse({"ok": True, "reload": True})


@router.post("/connections/{connection_id}/test")
def test(connection_id: str, session: PostSession, service: ServiceDep) -> JSONResponse:
    try:
        result = service.test_connection(session.actor, connection_id)
        changed = service.get_connection(session.actor, connection_id)
    except GatekeyError as exc:
        return _json_error(exc)
    return JSONResponse(
        {
            "ok": result.ok,
            "message": result.message,
            "id": changed.id,
            "html": _card_html(service, changed),
        }
    )


@router.get("/connections/{connection_id}/usage")
def usage(connection_id: str, session: PageSession, service: ServiceDep) -> JSONResponse:
    try:
        found = service.connection_usage(session.actor, connection_id)
    except GatekeyError as exc:
        return _json_error(exc, 404)
    return JSONResponse({"flows": [{"name": u.flow_name, "steps": u.steps} for u in found.flows]})


@router.post("/connections/{connection_id}/delete")
def delete(
    connection_id: str,
    session: PostSession,
    service: ServiceDep,
    force: Annotated[str, Form(max_length=5)] = "",
) -> JSONResponse:
    """Delete; the dialog has shown the flows that use it, and says so with ``force``."""
    try:
        deleted = service.delete_connection(session.actor, connection_id, force=force == "1")
    except GatekeyError as exc:
        return _json_error(exc)
    return JSONResponse({"ok": True, "removed": deleted.id, "message": deleted.message})


# -- detail -------------------------------------------------------------------------------------


@router.get("/connections/{connection_id}", response_class=HTMLResponse)
def detail(connection_id: str, session: PageSession, service: ServiceDep) -> Response:
    try:
        connection = service.get_connection(session.actor, connection_id)
        trail = service.audit_trail(session.actor, connection_id, limit=50)
        used = service.connection_usage(session.actor, connection_id).flows
    except GatekeyError as exc:
        return page("not_found.html", 404, session=session, message=exc.message)
    return page(
        "connection.html",
        session=session,
        card=_card(service, connection),
        trail=trail,
        used=used,
    )


# -- settings: OAuth clients --------------------------------------------------------------------


@router.get("/settings", response_class=HTMLResponse)
def settings_page(session: PageSession, service: ServiceDep) -> HTMLResponse:
    clients = service.list_oauth_clients(session.actor)
    registered = {c.app for c in clients}
    oauth_apps = [
        a
        for a in service.list_apps(session.actor)
        if AuthKind.OAUTH2 in a.auth_kinds and a.key not in registered
    ]
    return page(
        "settings.html",
        session=session,
        clients=clients,
        oauth_apps=oauth_apps,
        callback_url=service.callback_url,
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
        service.register_oauth_client(
            session.actor,
            app=app,
            client_id=client_id,
            client_secret=client_secret,
            scopes=scopes.split() or None,
        )
    except GatekeyError as exc:
        return _json_error(exc)
    return JSONResponse({"ok": True, "reload": True})


@router.post("/settings/oauth-clients/{oauth_client_id}/delete")
def remove_client(oauth_client_id: str, session: PostSession, service: ServiceDep) -> JSONResponse:
    try:
        service.delete_oauth_client(session.actor, oauth_client_id)
    except GatekeyError as exc:
        return _json_error(exc)
    return JSONResponse({"ok": True, "reload": True})


__all__ = ["WebSession", "router"]

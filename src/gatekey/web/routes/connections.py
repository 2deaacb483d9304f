"""The Connections pages: the list with its filters and pages, new connection, the card menu
actions, and a detail view. Every action calls the service; fragments answer JSON."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import escape

from gatekey.asgi import ServiceDep
from gatekey.errors import GatekeyError, InvalidInput
from gatekey.models import ConnectionPage
from gatekey.service import Actor, Service
from gatekey.web.deps import PageSession, PostSession
from gatekey.web.errors import fragment_error, message_of
from gatekey.web.render import page, render
from gatekey.web.views import KIND_LABELS, card, card_html, way_of, who

router = APIRouter(include_in_schema=False)
PAGE = 200  # connections a page shows: the most the service returns at once


def _prefixed(form: Any, prefix: str) -> dict[str, str]:
    """Return the non-empty form values named ``<prefix><name>``, keyed by name."""
    return {
        k[len(prefix) :]: str(v)
        for k, v in form.items()
        if k.startswith(prefix) and isinstance(v, str) and v != ""
    }


def _skip_test(form: Any) -> bool:
    """Whether the dialog's "Save without checking" was chosen: the provider is not asked."""
    return bool(form.get("skip_test") == "1")


def _page_of(
    service: Service, actor: Actor, filters: dict[str, str], cursor: str
) -> ConnectionPage:
    """The page of connections after ``cursor``; one the service refuses (edited, or from
    another list) shows the first page rather than an error."""

    def listed(after: str | None) -> ConnectionPage:
        return service.connections.list(
            actor,
            status=filters["status"] or None,
            app=filters["app"] or None,
            text=filters["q"] or None,
            cursor=after,
            limit=PAGE,
        )

    try:
        return listed(cursor or None)
    except InvalidInput:
        if not cursor:
            raise
        return listed(None)


def _href(filters: dict[str, str], cursor: str | None = None) -> str:
    """The list's URL with these filters (the empty ones left out) and, given one, a cursor."""
    query = {k: v for k, v in filters.items() if v}
    if cursor:
        query["cursor"] = cursor
    return f"/connections?{urlencode(query)}" if query else "/connections"


def _attention(service: Service, actor: Actor, names: dict[str, str]) -> dict[str, Any]:
    """What the "needs attention" banner shows: the inactive connections (a page of them)."""
    inactive = service.connections.list(actor, status="inactive", limit=PAGE)
    return {
        "attention": [card(service, c, names) for c in inactive.items],
        "attention_more": inactive.next_cursor is not None,
    }


# -- the list -----------------------------------------------------------------------------------


@router.get("/connections", response_class=HTMLResponse)
def connections_page(
    session: PageSession,
    service: ServiceDep,
    status: str = "",
    app: str = "",
    q: str = "",
    cursor: str = "",
) -> HTMLResponse:
    """The list, ``PAGE`` cards at a time: a "Next page" link (a plain link, so it works
    without JavaScript) carries the service's cursor and the filters."""
    actor = session.actor
    status = status if status in ("active", "inactive") else ""
    apps = service.apps.list(actor)
    names = {a.key: a.name for a in apps}
    app = app if app in names else ""
    filters = {"status": status, "app": app, "q": q.strip()[:200]}
    shown = _page_of(service, actor, filters, cursor)
    unfiltered = not cursor and not any(filters.values())
    first = shown if unfiltered else service.connections.list(actor, limit=PAGE)
    # the app filter lists the apps in use; past one page which those are is not known here,
    # so it lists every app (one no connection uses simply matches nothing)
    used = {c.app for c in first.items} if first.next_cursor is None else set(names)
    return page(
        "connections.html",
        session=session,
        cards=[card(service, c, names) for c in shown.items],
        **_attention(service, actor, names),
        total=len(first.items),
        status_filter=status,
        app=app,
        q=filters["q"],
        apps=apps,
        used_apps=[a for a in apps if a.key in used],
        next_href=_href(filters, shown.next_cursor) if shown.next_cursor else None,
        first_href=_href(filters) if cursor else None,
    )


@router.get("/connections/attention", response_class=HTMLResponse)
def attention_banner(session: PageSession, service: ServiceDep) -> HTMLResponse:
    """The "needs attention" banner as it is now, for the page to put in place after a change
    (a reconnect, a test, a delete) without a reload; empty when nothing needs attention."""
    names = {a.key: a.name for a in service.apps.list(session.actor)}
    return HTMLResponse(render("_attention.html", **_attention(service, session.actor, names)))


@router.get("/connections/new", response_class=HTMLResponse)
def new_connection_form(
    session: PageSession,
    service: ServiceDep,
    app: str,
    connection_id: str = "",
    auth_kind: str = "",
) -> HTMLResponse:
    """The second step of "New connection": how to connect when the app offers several ways
    (``auth_kind``, else its first), a name, then fields or a Connect button.

    With ``connection_id``: new credentials for that connection (same ID, same way).
    """
    try:
        entry = service.apps.get(session.actor, app)
        method = entry.method(auth_kind or None)
    except GatekeyError as exc:
        said = escape(message_of(exc))
        return HTMLResponse(f"<p class='form-error' role='alert'>{said}</p>", 400)
    except LookupError:
        said = escape(f"{entry.name} cannot be connected that way.")
        return HTMLResponse(f"<p class='form-error' role='alert'>{said}</p>", 400)
    replacing = None
    if connection_id:
        try:
            replacing = service.connections.get(session.actor, connection_id)
            method = entry.method(replacing.auth_kind)
        except (GatekeyError, LookupError):
            return HTMLResponse("<p class='form-error' role='alert'>Connection not found.</p>", 404)
    clients = {c.app for c in service.oauth_clients.list(session.actor)}
    html = render(
        "_new_form.html",
        app=entry,
        method=method,
        kind=KIND_LABELS.get(method.kind.value, method.kind.value),
        ways=[] if replacing else [(m, way_of(m)) for m in entry.auth],
        oauth=method.through_consent,
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
        created = service.connections.create(
            session.actor,
            app=app,
            name=name,
            fields=fields,
            config=config,
            auth_kind=str(form.get("auth_kind", "")) or None,
            validate=not _skip_test(form),
        )
    except GatekeyError as exc:
        return fragment_error(exc)
    return JSONResponse({"ok": True, "id": created.id, "html": card_html(service, created)})


@router.post("/connections/{connection_id}/credentials")
async def replace_credentials(
    connection_id: str, request: Request, session: PostSession, service: ServiceDep
) -> JSONResponse:
    form = await request.form()
    fields, config = _prefixed(form, "field."), _prefixed(form, "config.")
    try:
        changed = service.connections.replace_credentials(
            session.actor,
            connection_id,
            fields=fields,
            config=config or None,
            validate=not _skip_test(form),
        )
    except GatekeyError as exc:
        return fragment_error(exc)
    return JSONResponse({"ok": True, "id": changed.id, "html": card_html(service, changed)})


@router.post("/connections/oauth")
async def start_oauth(request: Request, session: PostSession, service: ServiceDep) -> JSONResponse:
    form = await request.form()
    connection_id = str(form.get("connection_id", "")) or None
    config = _prefixed(form, "config.")
    try:
        started = service.authorizations.start(
            session.actor,
            app=None if connection_id else str(form.get("app", "")),
            name=str(form.get("name", "")) or None,
            connection_id=connection_id,
            config=config or None,
            allow_account_switch=form.get("allow_account_switch") == "1",
        )
    except GatekeyError as exc:
        return fragment_error(exc)
    return JSONResponse(
        {"ok": True, "session_id": started.id, "authorize_url": started.authorize_url}
    )


@router.get("/connections/oauth/{session_id}")
def oauth_status(session_id: str, session: PageSession, service: ServiceDep) -> JSONResponse:
    try:
        state = service.authorizations.status(session.actor, session_id)
    except GatekeyError as exc:
        return fragment_error(exc, 404)
    return JSONResponse(
        {
            "status": state.status,
            "connection_id": state.connection_id if state.status == "succeeded" else None,
            "error_code": state.error_code,
            "error_message": state.error_message,
        }
    )


@router.get("/connections/{connection_id}/card", response_class=HTMLResponse)
def one_card(connection_id: str, session: PageSession, service: ServiceDep) -> HTMLResponse:
    try:
        connection = service.connections.get(session.actor, connection_id)
    except GatekeyError as exc:
        return HTMLResponse(exc.message, 404)
    return HTMLResponse(card_html(service, connection))


# -- the card menu ----------------------------------------------------------------------------


@router.post("/connections/{connection_id}/rename")
def rename(
    connection_id: str,
    session: PostSession,
    service: ServiceDep,
    name: Annotated[str, Form(max_length=1000)] = "",
) -> JSONResponse:
    try:
        changed = service.connections.rename(session.actor, connection_id, name)
    except GatekeyError as exc:
        return fragment_error(exc)
    return JSONResponse({"ok": True, "id": changed.id, "html": card_html(service, changed)})


@router.post("/connections/{connection_id}/default")
def make_default(connection_id: str, session: PostSession, service: ServiceDep) -> Response:
    try:
        service.connections.set_default(session.actor, connection_id)
    except GatekeyError as exc:
        return fragment_error(exc)
    return JSONResponse({"ok": True, "reload": True})


@router.post("/connections/{connection_id}/test")
def test(connection_id: str, session: PostSession, service: ServiceDep) -> JSONResponse:
    try:
        result = service.connections.test(session.actor, connection_id)
        changed = service.connections.get(session.actor, connection_id)
    except GatekeyError as exc:
        return fragment_error(exc)
    return JSONResponse(
        {
            "ok": result.ok,
            "message": result.message,
            "id": changed.id,
            "html": card_html(service, changed),
        }
    )


@router.get("/connections/{connection_id}/usage")
def usage(connection_id: str, session: PageSession, service: ServiceDep) -> JSONResponse:
    try:
        found = service.flows.usage(session.actor, connection_id)
    except GatekeyError as exc:
        return fragment_error(exc, 404)
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
        deleted = service.connections.delete(session.actor, connection_id, force=force == "1")
    except GatekeyError as exc:
        return fragment_error(exc)
    return JSONResponse({"ok": True, "removed": deleted.id, "message": deleted.message})


# -- detail -------------------------------------------------------------------------------------


@router.get("/connections/{connection_id}", response_class=HTMLResponse)
def detail(connection_id: str, session: PageSession, service: ServiceDep) -> Response:
    try:
        connection = service.connections.get(session.actor, connection_id)
        trail = service.connections.audit_trail(session.actor, connection_id, limit=50)
        used = service.flows.usage(session.actor, connection_id).flows
        keys = {k.id: k.name for k in service.access.list_keys(session.actor)}
    except GatekeyError as exc:
        return page("not_found.html", 404, session=session, message=exc.message)
    return page(
        "connection.html",
        session=session,
        card=card(service, connection),
        trail=[(e, who(e.actor, keys)) for e in trail],
        used=used,
    )

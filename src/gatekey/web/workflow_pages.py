"""The Flows and Runs pages: which connections each flow uses, runs with their steps, Re-run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, JSONResponse, Response

from gatekey.api.deps import ServiceDep
from gatekey.errors import GatekeyError
from gatekey.web.auth import PageSession, PostSession
from gatekey.web.pages import KIND_LABELS, _json_error
from gatekey.web.render import page

router = APIRouter(include_in_schema=False)
STATUSES = ("queued", "running", "succeeded", "failed")


@router.get("/flows", response_class=HTMLResponse)
def flows_page(session: PageSession, service: ServiceDep, connection: str = "") -> HTMLResponse:
    actor = session.actor
    try:
        found = service.list_flows(actor, connection_id=connection or None)
    except GatekeyError:
        found, connection = service.list_flows(actor), ""
    names = {c.id: c.name for c in service.list_connections(actor, limit=200).items}
    return page(
        "flows.html",
        session=session,
        nav="flows",
        flows=found,
        names=names,
        connection=connection,
        connection_name=names.get(connection, ""),
    )


@router.get("/runs", response_class=HTMLResponse)
def runs_page(
    session: PageSession,
    service: ServiceDep,
    status: str = "",
    flow: str = "",
    connection: str = "",
) -> HTMLResponse:
    actor = session.actor
    status = status if status in STATUSES else ""
    try:
        found = service.list_runs(
            actor,
            status=status or None,
            flow_id=flow or None,
            connection_id=connection or None,
            limit=100,
        )
    except GatekeyError:
        found = service.list_runs(actor, limit=100)
    flows = {f.id: f.name for f in service.list_flows(actor)}
    return page(
        "runs.html",
        session=session,
        nav="runs",
        runs=found,
        flows=flows,
        status_filter=status,
        flow=flow,
        connection=connection,
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: str, session: PageSession, service: ServiceDep) -> Response:
    try:
        run = service.get_run(session.actor, run_id)
        flow_name = service.get_flow(session.actor, run.flow_id).name
    except GatekeyError as exc:
        return page("not_found.html", 404, session=session, message=exc.message)
    names = {c.id: c.name for c in service.list_connections(session.actor, limit=200).items}
    return page("run.html", session=session, nav="runs", run=run, flow_name=flow_name, names=names)


@router.post("/runs/{run_id}/retry")
def retry(run_id: str, session: PostSession, service: ServiceDep) -> JSONResponse:
    try:
        again = service.retry_run(session.actor, run_id)
    except GatekeyError as exc:
        return _json_error(exc)
    return JSONResponse({"ok": True, "redirect": f"/runs/{again.id}"})


@router.post("/connections/{connection_id}/replace")
def replace(
    connection_id: str,
    session: PostSession,
    service: ServiceDep,
    replacement: Annotated[str, Form(max_length=64)] = "",
) -> JSONResponse:
    try:
        moved = service.replace_connection(session.actor, connection_id, replacement)
    except GatekeyError as exc:
        return _json_error(exc)
    return JSONResponse({"ok": True, "reload": True, "message": f"Moved {moved} step(s)"})


@router.get("/apps", response_class=HTMLResponse)
def apps_page(session: PageSession, service: ServiceDep, q: str = "") -> HTMLResponse:
    """The catalog: search, auth kinds, docs links, and a shortcut to connect."""
    q = q.strip()[:100]
    return page(
        "apps.html",
        session=session,
        nav="apps",
        apps=service.list_apps(session.actor, q or None),
        q=q,
        kinds=KIND_LABELS,
    )

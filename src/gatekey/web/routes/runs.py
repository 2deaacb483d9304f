"""The Runs pages: runs filtered by status, flow or connection; one run with its steps; Re-run.

A run that failed on a connection offers to fix that connection where the run is shown
(Reconnect for OAuth2, its credentials otherwise); Re-run waits until the connection is active
again. A run still queued or running is followed by the page's script to its end.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response

from gatekey.asgi import ServiceDep
from gatekey.errors import GatekeyError, NotFound
from gatekey.models import Run
from gatekey.service import Actor, Service
from gatekey.web.deps import PageSession, PostSession
from gatekey.web.errors import fragment_error
from gatekey.web.render import page
from gatekey.web.views import card, step_status

router = APIRouter(include_in_schema=False)
STATUSES = ("queued", "running", "succeeded", "failed")


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
        found = service.runs.list(
            actor,
            status=status or None,
            flow_id=flow or None,
            connection_id=connection or None,
            limit=100,
        )
    except GatekeyError:
        found = service.runs.list(actor, limit=100)
    flows = {f.id: f.name for f in service.flows.list(actor)}
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
        run = service.runs.get(session.actor, run_id)
        flow_name = service.flows.get(session.actor, run.flow_id).name
    except GatekeyError as exc:
        return page("not_found.html", 404, session=session, message=exc.message)
    shown = [s.connection_id for s in run.steps if s.connection_id]
    failed = [run.failed_connection_id] if run.failed_connection_id else []
    names = service.connections.names(session.actor, [*shown, *failed])
    return page(
        "run.html",
        session=session,
        nav="runs",
        run=run,
        flow_name=flow_name,
        names=names,
        culprit=_culprit(service, session.actor, run),
        steps=[(s, step_status(run, s)) for s in run.steps],
    )


def _culprit(service: Service, actor: Actor, run: Run) -> dict[str, Any] | None:
    """The card of the connection a failed run failed on, while it still exists."""
    if run.status != "failed" or not run.failed_connection_id:
        return None
    try:
        return card(service, service.connections.get(actor, run.failed_connection_id))
    except NotFound:
        return None


@router.post("/runs/{run_id}/retry")
def retry(run_id: str, session: PostSession, service: ServiceDep) -> JSONResponse:
    try:
        again = service.runs.retry(session.actor, run_id)
    except GatekeyError as exc:
        return fragment_error(exc)
    return JSONResponse({"ok": True, "redirect": f"/runs/{again.id}"})

"""The Flows page (which connections each flow uses, and Run with an optional JSON input), and
Replace in flows from a card's menu: every step on one connection moved to another of the same
app."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, JSONResponse

from gatekey.asgi import ServiceDep
from gatekey.errors import GatekeyError, InvalidInput
from gatekey.web.deps import PageSession, PostSession
from gatekey.web.errors import fragment_error
from gatekey.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/flows", response_class=HTMLResponse)
def flows_page(session: PageSession, service: ServiceDep, connection: str = "") -> HTMLResponse:
    actor = session.actor
    try:
        found = service.flows.list(actor, connection_id=connection or None)
    except GatekeyError:
        found, connection = service.flows.list(actor), ""
    shown = [r.connection_id for f in found for r in f.connections if r.connection_id]
    names = service.connections.names(actor, [*shown, *([connection] if connection else [])])
    return page(
        "flows.html",
        session=session,
        nav="flows",
        flows=found,
        names=names,
        connection=connection,
        connection_name=names.get(connection, ""),
    )


def _run_input(text: str) -> Any:
    """The run input typed on the Flows page: nothing, or a JSON object."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"the input is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            'write an object such as {"name": "Ada"}, or leave it empty'
        ) from None


@router.post("/flows/{flow_id}/runs")
def run(
    flow_id: str,
    session: PostSession,
    service: ServiceDep,
    input: Annotated[str, Form(max_length=70_000)] = "",
) -> JSONResponse:
    """Queue a run of the flow and go to its page, where it is followed to its end."""
    try:
        queued = service.runs.trigger(session.actor, flow_id, _run_input(input))
    except GatekeyError as exc:
        return fragment_error(exc)
    return JSONResponse({"ok": True, "redirect": f"/runs/{queued.id}"})


@router.post("/connections/{connection_id}/replace")
def replace(
    connection_id: str,
    session: PostSession,
    service: ServiceDep,
    replacement: Annotated[str, Form(max_length=64)] = "",
) -> JSONResponse:
    try:
        moved = service.flows.replace_connection(session.actor, connection_id, replacement)
    except GatekeyError as exc:
        return fragment_error(exc)
    return JSONResponse({"ok": True, "reload": True, "message": f"Moved {moved} step(s)"})

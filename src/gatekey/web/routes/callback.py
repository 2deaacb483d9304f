"""``GET /oauth/callback``: where providers send the person back after consent.

The page tells its opener the outcome with ``postMessage`` to Gatekey's exact origin, and over
a same-origin ``BroadcastChannel`` (``gatekey-oauth``) for when the opener link was cut
(Cross-Origin-Opener-Policy at the provider), then closes itself. It loads only Gatekey's own
script and stylesheet, and sends no referrer, so the code in its URL goes nowhere.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gatekey.asgi import ServiceDep, SettingsDep, client_address
from gatekey.errors import GatekeyError
from gatekey.web.errors import page_status
from gatekey.web.render import page

router = APIRouter(include_in_schema=False)
CHANNEL = "gatekey-oauth"
MAX_VALUE = 4096


@router.get("/oauth/callback", response_class=HTMLResponse)
def oauth_callback(request: Request, service: ServiceDep, settings: SettingsDep) -> HTMLResponse:
    # an over-long value is cut, never dropped: a dropped `iss` would read as "none sent"
    params = {k: v[: MAX_VALUE + 1] for k, v in request.query_params.items()}
    result: dict[str, Any]
    try:
        session = service.system.complete_authorization(params, client=client_address(request))
    except GatekeyError as exc:
        result = {
            "type": CHANNEL,
            "status": "failed",
            "session_id": None,
            "connection_id": None,
            "error_code": exc.code,
            "error_message": exc.message,
        }
        return page(
            "oauth_callback.html",
            page_status(exc, 400),
            referrer="no-referrer",
            result=result,
            origin=settings.origin,
            channel=CHANNEL,
        )
    result = {
        "type": CHANNEL,
        "status": session.status,
        "session_id": session.id,
        "connection_id": session.connection_id if session.status == "succeeded" else None,
        "reconnect": session.reconnect,
        "app": session.app,
        "error_code": session.error_code,
        "error_message": session.error_message,
    }
    status = 200 if session.status == "succeeded" else 400
    return page(
        "oauth_callback.html",
        status,
        referrer="no-referrer",
        result=result,
        origin=settings.origin,
        channel=CHANNEL,
    )

"""The signed-in browser: a session cookie, and a CSRF token on every state-changing request.

The cookie is HttpOnly, SameSite=Lax, and Secure when Gatekey is served over HTTPS. Every
POST must carry the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``) and,
when the browser sends one, an ``Origin`` equal to Gatekey's own.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from gatekey.asgi import ServiceDep, SettingsDep
from gatekey.errors import AuthenticationFailed, PermissionDenied
from gatekey.service import WebSession
from gatekey.settings import Settings
from gatekey.web.errors import SignInRequired

COOKIE = "gatekey_session"


def set_session_cookie(
    request: Request, response: Response, token: str, settings: Settings
) -> None:
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.origin.startswith("https://") or request.url.scheme == "https",
        path="/",
        max_age=12 * 3600,
    )


def current(request: Request, service: ServiceDep) -> WebSession:
    try:
        return service.system.web_session(request.cookies.get(COOKIE))
    except AuthenticationFailed:
        raise SignInRequired from None


async def checked(
    request: Request, settings: SettingsDep, session: Annotated[WebSession, Depends(current)]
) -> WebSession:
    """The session of a state-changing request, after the CSRF and origin checks."""
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise PermissionDenied("the form is out of date (CSRF check failed); reload the page")
    origin = request.headers.get("origin")
    if origin is not None and origin != settings.origin:
        raise PermissionDenied("the request did not come from this Gatekey")
    return session


PageSession = Annotated[WebSession, Depends(current)]
PostSession = Annotated[WebSession, Depends(checked)]

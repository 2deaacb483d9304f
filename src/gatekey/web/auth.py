"""The signed-in browser: a session cookie, and a CSRF token on every state-changing request.

The cookie is HttpOnly, SameSite=Lax, and Secure when Gatekey is served over HTTPS. Every
POST must carry the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``) and,
when the browser sends one, an ``Origin`` equal to Gatekey's own.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from gatekey.api.deps import ServiceDep
from gatekey.errors import AuthenticationFailed, PermissionDenied
from gatekey.service import WebSession

COOKIE = "gatekey_session"


class SignInRequired(Exception):
    """Raised by page dependencies; answered with a redirect to the sign-in page."""


def origin_of(request: Request) -> str:
    origin: str = request.app.state.runtime.settings.origin
    return origin


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=origin_of(request).startswith("https://") or request.url.scheme == "https",
        path="/",
        max_age=12 * 3600,
    )


def current(request: Request, service: ServiceDep) -> WebSession:
    try:
        return service.web_session(request.cookies.get(COOKIE))
    except AuthenticationFailed:
        raise SignInRequired from None


async def checked(request: Request, session: Annotated[WebSession, Depends(current)]) -> WebSession:
    """The session of a state-changing request, after the CSRF and origin checks."""
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise PermissionDenied("the form is out of date (CSRF check failed); reload the page")
    origin = request.headers.get("origin")
    if origin is not None and origin != origin_of(request):
        raise PermissionDenied("the request did not come from this Gatekey")
    return session


PageSession = Annotated[WebSession, Depends(current)]
PostSession = Annotated[WebSession, Depends(checked)]


def to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path if request.method == "GET" else "/connections"
    return RedirectResponse(f"/signin?next={target}", status_code=303)

"""The signed-in browser: a session cookie, and a CSRF token on every state-changing request.

The cookie is HttpOnly, SameSite=Lax, and Secure when Gatekey is served over HTTPS. Every
POST must carry the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``) and,
when the browser sends one, an ``Origin`` equal to Gatekey's own.

A session belongs to one project: it was opened with an admin key of that project or with a
one-time link the operator printed for it. Pages name the project in their header.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from gatekey.asgi import ServiceDep, SettingsDep
from gatekey.errors import AuthenticationFailed, PermissionDenied
from gatekey.models import Project
from gatekey.service import Actor, Service, WebSession
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


@dataclass(eq=False)
class SignedIn:
    """A signed-in browser: who it acts as, its CSRF token, and the project it works in (read
    only when a page shows it, so fragments cost no extra read)."""

    web: WebSession
    service: Service

    @property
    def actor(self) -> Actor:
        return self.web.actor

    @property
    def csrf(self) -> str:
        return self.web.csrf

    @cached_property
    def project(self) -> Project:
        return self.service.system.find_project(self.web.actor.project_id)

    def __repr__(self) -> str:
        return repr(self.web)


def current(request: Request, service: ServiceDep) -> SignedIn:
    try:
        return SignedIn(service.system.web_session(request.cookies.get(COOKIE)), service)
    except AuthenticationFailed:
        raise SignInRequired from None


async def checked(
    request: Request, settings: SettingsDep, session: Annotated[SignedIn, Depends(current)]
) -> SignedIn:
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


PageSession = Annotated[SignedIn, Depends(current)]
PostSession = Annotated[SignedIn, Depends(checked)]

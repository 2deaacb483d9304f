"""Signing in (an admin API key, or a one-time link the operator printed) and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gatekey.asgi import ServiceDep, SettingsDep, client_address
from gatekey.errors import GatekeyError
from gatekey.web.deps import COOKIE, PostSession, set_session_cookie
from gatekey.web.errors import message_of, page_status
from gatekey.web.render import page

router = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str:
    """Only a path on this Gatekey: never another site (``//host``) after signing in."""
    return target if target.startswith("/") and not target.startswith("//") else "/connections"


@router.get("/", response_class=HTMLResponse)
def home() -> Response:
    return RedirectResponse("/connections", status_code=303)


@router.get("/signin", response_class=HTMLResponse)
def signin_page(next: str = "/connections", signed_out: str = "") -> HTMLResponse:
    notice = "You are signed out." if signed_out else None
    return page("signin.html", next=_safe_next(next), error=None, notice=notice)


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    service: ServiceDep,
    settings: SettingsDep,
    api_key: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=200)] = "/connections",
) -> Response:
    origin = request.headers.get("origin")
    if origin is not None and origin != settings.origin:
        return page("signin.html", 403, next="/connections", error="Sign in from this page.")
    try:
        token, _ = service.system.sign_in(api_key=api_key.strip(), client=client_address(request))
    except GatekeyError as exc:
        status = page_status(exc, 401)
        return page("signin.html", status, next=_safe_next(next), error=message_of(exc))
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(request, response, token, settings)
    return response


@router.get("/signin/{link}", response_class=HTMLResponse)
def signin_link(
    request: Request, link: str, service: ServiceDep, settings: SettingsDep
) -> Response:
    try:
        token, _ = service.system.sign_in(link=link, client=client_address(request))
    except GatekeyError as exc:
        status = page_status(exc, 401)
        return page("signin.html", status, next="/connections", error=message_of(exc))
    response = RedirectResponse("/connections", status_code=303)
    set_session_cookie(request, response, token, settings)
    return response


@router.post("/signout")
def signout(request: Request, session: PostSession, service: ServiceDep) -> Response:
    service.system.sign_out(request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/signin?signed_out=1", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response

"""The sandbox authorization server: routes and in-memory state.

Endpoints (under the router's prefix, ``/sandbox``): ``GET /`` (what it is and offers, for a
person), ``GET/POST /authorize`` (sign-in and
consent), ``POST /token`` (``authorization_code`` with PKCE S256, ``refresh_token`` with
rotation, ``client_credentials``), ``POST /revoke`` (RFC 7009), ``GET /api/me`` (the account
behind a bearer token), and ``/control/*`` for the operator: revoke grants, queue token
endpoint faults, slow it down, change token lifetimes, read counters.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import unquote, urlencode, urlsplit

import anyio
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from gatekey.templating import Templates

CODE_TTL = 120.0
page = Templates("gatekey.oauth.sandbox").page


@dataclass
class _Client:
    secret: str
    redirect_uris: set[str]


@dataclass
class _Grant:
    client_id: str
    user: str
    scope: str
    refresh_token: str | None
    revoked: bool = False


@dataclass
class SandboxState:
    """Everything the sandbox remembers; thread-safe, one lock."""

    issuer: str
    clients: dict[str, _Client] = field(default_factory=dict)
    access_ttl: int = 3600
    lock: threading.Lock = field(default_factory=threading.Lock)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    grants: dict[str, _Grant] = field(default_factory=dict)
    refresh_index: dict[str, str] = field(default_factory=dict)
    access: dict[str, tuple[str, float]] = field(default_factory=dict)
    faults: list[dict[str, Any]] = field(default_factory=list)
    delay_ms: int = 0
    rotate_refresh: bool = True
    revoke_faults: list[int] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def register_client(self, client_id: str, secret: str, redirect_uris: list[str]) -> None:
        with self.lock:
            self.clients[client_id] = _Client(secret, set(redirect_uris))

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def issue(self, grant_id: str, *, rotate: bool) -> dict[str, Any]:
        """Return a token response for a grant (a new refresh token when ``rotate``)."""
        grant = self.grants[grant_id]
        access = "sbx_at_" + secrets.token_urlsafe(24)
        self.access[access] = (grant_id, time.time() + self.access_ttl)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_ttl,
            "scope": grant.scope,
        }
        if rotate and grant.refresh_token is not None:
            self.refresh_index.pop(grant.refresh_token, None)
            grant.refresh_token = "sbx_rt_" + secrets.token_urlsafe(24)
            self.refresh_index[grant.refresh_token] = grant_id
        if grant.refresh_token is not None:
            body["refresh_token"] = grant.refresh_token
        return body


class Fault(BaseModel):
    status: int = 500
    retry_after: int | None = None
    error: str | None = None
    count: int = 1


def _oauth_error(status: int, error: str, description: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", **headers},
    )


def _client_auth(
    state: SandboxState, authorization: str | None, form: dict[str, str]
) -> str | None:
    """Return the authenticated client id (basic or post), or None."""
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:]).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, _, secret = decoded.partition(":")
        client_id, secret = unquote(client_id), unquote(secret)
    client = state.clients.get(client_id or "")
    if client is None or secret is None or not hmac.compare_digest(client.secret, secret):
        return None
    return client_id


def sandbox_router(state: SandboxState) -> APIRouter:
    """Return the sandbox's routes for ``state`` (include it under ``/sandbox``)."""
    router = APIRouter(prefix="/sandbox", include_in_schema=False)

    def _redirect(redirect_uri: str, **params: str) -> RedirectResponse:
        query = urlencode({k: v for k, v in params.items() if v}, safe="")
        sep = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(redirect_uri + sep + query, status_code=302)

    def _check_request(params: dict[str, str]) -> str | None:
        client = state.clients.get(params.get("client_id", ""))
        if client is None:
            return "unknown client_id"
        if params.get("redirect_uri") not in client.redirect_uris:
            return "redirect_uri is not registered for this client"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("code_challenge") and params.get("code_challenge_method") != "S256":
            return "code_challenge_method must be S256"
        return None

    @router.get("", response_class=HTMLResponse)
    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home() -> HTMLResponse:
        """What the sandbox is and offers, its token lifetimes and controls, and its state."""
        with state.lock:
            grants = list(state.grants.values())
            clients = len(state.clients)
            access_ttl, rotate = state.access_ttl, state.rotate_refresh
        return page(
            "sandbox_home.html",
            base=state.issuer,
            access_ttl=access_ttl,
            rotate=rotate,
            code_ttl=int(CODE_TTL),
            grants=len(grants),
            revoked=sum(1 for g in grants if g.revoked),
            clients=clients,
        )

    @router.get("/authorize", response_class=HTMLResponse)
    def authorize_page(request: Request) -> HTMLResponse:
        params = dict(request.query_params)
        state.count("authorize")
        problem = _check_request(params)
        target = urlsplit(params.get("redirect_uri", ""))
        return page(
            "sandbox_consent.html",
            400 if problem else 200,
            referrer="no-referrer",
            form_targets="" if problem else f" {target.scheme}://{target.netloc}",
            problem=problem,
            params=params,
            scopes=params.get("scope", "").split(),
            home=state.issuer,
        )

    @router.post("/authorize")
    async def authorize_decision(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        decision = form.get("decision", "")
        user = form.get("user", "")[:200]
        problem = _check_request(form)
        if problem:
            return page(
                "sandbox_consent.html",
                400,
                problem=problem,
                params=form,
                scopes=[],
                home=state.issuer,
            )
        if decision != "approve":
            return _redirect(
                form["redirect_uri"],
                error="access_denied",
                error_description="The user denied access",
                state=form.get("state", ""),
                iss=state.issuer,
            )
        code = secrets.token_urlsafe(24)
        with state.lock:
            state.codes[code] = {
                "client_id": form["client_id"],
                "redirect_uri": form["redirect_uri"],
                "challenge": form.get("code_challenge"),
                "scope": form.get("scope", ""),
                "user": user.strip() or "demo@example.com",
                "expires": time.time() + CODE_TTL,
            }
        return _redirect(
            form["redirect_uri"], code=code, state=form.get("state", ""), iss=state.issuer
        )

    @router.post("/token")
    async def token(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        grant_type = form.get("grant_type", "")
        state.count("token")
        state.count(f"token:{grant_type}")
        with state.lock:
            fault = state.faults.pop(0) if state.faults else None
            if fault and fault["count"] > 1:
                state.faults.insert(0, {**fault, "count": fault["count"] - 1})
            delay = state.delay_ms
        if delay:
            await anyio.sleep(delay / 1000)
        if fault is not None:
            if fault.get("error"):
                return _oauth_error(fault["status"], fault["error"], "injected by the operator")
            headers = {"Retry-After": str(fault["retry_after"])} if fault.get("retry_after") else {}
            return Response(
                "sandbox fault",
                status_code=fault["status"],
                headers=headers,
                media_type="text/plain",
            )
        client_id = _client_auth(state, authorization, form)
        if client_id is None:
            return _oauth_error(401, "invalid_client", "client authentication failed")
        with state.lock:
            if grant_type == "authorization_code":
                return _code_grant(state, client_id, form)
            if grant_type == "refresh_token":
                return _refresh_grant(state, client_id, form)
            if grant_type == "client_credentials":
                grant_id = secrets.token_hex(8)
                state.grants[grant_id] = _Grant(
                    client_id, f"{client_id}@clients", form.get("scope", ""), None
                )
                return JSONResponse(state.issue(grant_id, rotate=False))
        return _oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type!r}")

    @router.post("/revoke")
    async def revoke(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        state.count("revoke")
        with state.lock:
            fault = state.revoke_faults.pop(0) if state.revoke_faults else None
        if fault is not None:
            return Response("sandbox fault", status_code=fault, media_type="text/plain")
        if _client_auth(state, authorization, form) is None:
            return _oauth_error(401, "invalid_client", "client authentication failed")
        token = form.get("token", "")
        with state.lock:
            grant_id = state.refresh_index.get(token) or state.access.get(token, ("", 0))[0]
            if grant_id in state.grants:
                state.grants[grant_id].revoked = True
        return Response(status_code=200)

    @router.get("/api/me")
    def me(authorization: Annotated[str | None, Header()] = None) -> Response:
        state.count("api")
        token = (authorization or "").removeprefix("Bearer ").strip()
        with state.lock:
            grant_id, expires = state.access.get(token, ("", 0.0))
            grant = state.grants.get(grant_id)
        if grant is None or grant.revoked or expires < time.time():
            return JSONResponse(
                {"error": "invalid_token", "message": "the access token is invalid or expired"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return JSONResponse({"id": grant_id, "email": grant.user, "scope": grant.scope})

    @router.post("/control/fail")
    def control_fail(fault: Fault) -> dict[str, Any]:
        with state.lock:
            state.faults.append(fault.model_dump())
            return {"queued": len(state.faults)}

    @router.post("/control/slow")
    def control_slow(ms: int = 0) -> dict[str, int]:
        state.delay_ms = max(ms, 0)
        return {"delay_ms": state.delay_ms}

    @router.post("/control/ttl")
    def control_ttl(seconds: int = 3600) -> dict[str, int]:
        state.access_ttl = max(seconds, 1)
        return {"access_ttl": state.access_ttl}

    @router.post("/control/revoke")
    def control_revoke(user: str | None = None) -> dict[str, int]:
        with state.lock:
            hit = [g for g in state.grants.values() if user is None or g.user == user]
            for grant in hit:
                grant.revoked = True
        return {"revoked": len(hit)}

    @router.get("/control/stats")
    def control_stats() -> dict[str, Any]:
        with state.lock:
            return {"counts": dict(state.counts), "grants": len(state.grants)}

    @router.post("/control/reset")
    def control_reset() -> dict[str, bool]:
        with state.lock:
            state.counts.clear()
            state.faults.clear()
            state.delay_ms = 0
        return {"reset": True}

    return router


def _code_grant(state: SandboxState, client_id: str, form: dict[str, str]) -> JSONResponse:
    code = state.codes.pop(form.get("code", ""), None)
    if code is None or code["expires"] < time.time() or code["client_id"] != client_id:
        return _oauth_error(400, "invalid_grant", "the authorization code is invalid or used")
    if form.get("redirect_uri") != code["redirect_uri"]:
        return _oauth_error(400, "invalid_grant", "redirect_uri does not match")
    if code["challenge"]:
        verifier = form.get("code_verifier", "")
        if not verifier or not hmac.compare_digest(
            create_s256_code_challenge(verifier), code["challenge"]
        ):
            return _oauth_error(400, "invalid_grant", "PKCE verification failed")
    grant_id = secrets.token_hex(8)
    state.grants[grant_id] = _Grant(client_id, code["user"], code["scope"], "")
    return JSONResponse(state.issue(grant_id, rotate=True), headers={"Cache-Control": "no-store"})


def _refresh_grant(state: SandboxState, client_id: str, form: dict[str, str]) -> JSONResponse:
    grant_id = state.refresh_index.get(form.get("refresh_token", ""))
    grant = state.grants.get(grant_id or "")
    if grant is None or grant.revoked or grant.client_id != client_id:
        return _oauth_error(400, "invalid_grant", "The refresh token is invalid or was revoked")
    assert grant_id is not None
    body = state.issue(grant_id, rotate=state.rotate_refresh)
    if not state.rotate_refresh:
        body.pop("refresh_token", None)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def create_sandbox_app(state: SandboxState) -> FastAPI:
    """Return a server that is only the sandbox (tests run it beside Gatekey's processes)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(sandbox_router(state))
    app.state.sandbox = state
    return app

"""What an execution is handed for a connection, and why it is refused one. Pure, no I/O.

``handed_out`` shapes the values of ``models.Credentials`` from the row, the app's method, the
decrypted secret and the applied auth rules: OAuth2 connections hand out the access token and
its type only (never the refresh token or a client secret), with the statuses (and the body
rule) that mean the token expired, and so do the kinds that mint a token (a signed JWT, an
assertion grant, a GitHub App installation, a login); the signing kinds (OAuth 1.0a, AWS
SigV4) hand out ``signing`` (``domain.signing``) and no fields; every other kind hands out its
fields. A method with a client certificate (mutual TLS) hands it out as
``client_certificate`` (the certificate and key pair). Every kind hands out
how to read the app's answers (``ok_when``, ``error_paths``) and which applied headers a
caller may replace (``overridable_headers``). Values come from data validated when it
was stored, so nothing here validates again; every mutable value is a fresh copy, since the
inputs are cached. ``copy_of`` copies such values again, for a caller that keeps them: the
resolver shapes a reading once and hands out a copy per resolution.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from gatekey.catalog.responses import TestRequest
from gatekey.catalog.schema import MINTED, SIGNED, App, AuthKind, AuthMethod
from gatekey.domain.apply import AppliedAuth, template_values
from gatekey.domain.bodies import BodyRule
from gatekey.domain.signing import client_tls_of, signing_of
from gatekey.domain.tokens import HANDED_OUT
from gatekey.errors import ConnectionInactive, Hint, MissingScopes

_KINDS = {kind.value: kind for kind in AuthKind}


class Handed(Protocol):
    """The columns of a connection that reach an execution."""

    @property
    def id(self) -> str: ...
    @property
    def app_key(self) -> str: ...
    @property
    def auth_kind(self) -> str: ...
    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def expires_at(self) -> datetime | None: ...


def handed_out(
    row: Handed, app: App, method: AuthMethod, secret: Mapping[str, Any], auth: AppliedAuth
) -> dict[str, Any]:
    """The values of the ``Credentials`` for ``row`` (``basic`` as a (username, password)
    pair, for the caller's model to wrap)."""
    lifecycle = method.lifecycle
    expired_when: BodyRule | None = None
    signing = None
    if method.kind in SIGNED:
        fields: dict[str, Any] = {}
        token_type = None
        expired = [401] if method.oauth1 is None else list(method.oauth1.expired_token_status)
        values = template_values(method, {**secret, **row.config, "connection_id": row.id})
        signing = signing_of(method, secret, values, row.expires_at)
    elif lifecycle is None or (method.kind not in MINTED and method.oauth2 is None):
        fields = dict(secret)
        token_type = None
        expired = []
    else:
        fields = {k: secret[k] for k in HANDED_OUT if k in secret}
        token_type = str(secret.get("token_type") or "Bearer")
        expired = list(lifecycle.expired_token_status)
        if method.responses.expired_when is not None:
            expired_when = method.responses.expired_when.rule()
    ok_when = method.responses.ok_when
    return {
        "connection_id": row.id,
        "app": row.app_key,
        "auth_kind": _KINDS[row.auth_kind],
        "fields": fields,
        "config": dict(row.config),
        "base_url": auth.base_url,
        "headers": dict(auth.headers),
        "query": dict(auth.query),
        "basic": auth.basic,
        "expires_at": row.expires_at,
        "token_type": token_type,
        "expired_token_status": expired,
        "expired_when": expired_when,
        "ok_when": ok_when.rule() if ok_when is not None else None,
        "error_paths": error_paths(app, method),
        "overridable_headers": sorted(auth.overridable),
        "signing": signing,
        "client_certificate": client_tls_of(method, secret),
    }


def error_paths(app: App, method: AuthMethod) -> list[str]:
    """Where the app's answers hold its error text: its test request says (or the usual
    places, ``TestRequest``'s default)."""
    spec = method.test_request or app.test_request or TestRequest(path="/")
    return list(spec.error_message)


def copy_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``handed_out``'s values that shares no mutable value with them (the same
    depth of copy as ``handed_out`` makes of its inputs)."""
    fresh = dict(values)
    fresh["fields"] = values["fields"].copy()
    fresh["config"] = values["config"].copy()
    fresh["headers"] = values["headers"].copy()
    fresh["query"] = values["query"].copy()
    fresh["expired_token_status"] = values["expired_token_status"].copy()
    fresh["error_paths"] = values["error_paths"].copy()
    fresh["overridable_headers"] = values["overridable_headers"].copy()
    return fresh  # ``signing`` is a flat dict of strings the resolver builds a model from


def inactive_error(
    connection_id: str,
    name: str,
    status: str,
    reason: str | None,
    message: str | None,
    *,
    app_key: str,
    auth_kind: str,
) -> ConnectionInactive:
    """The error a resolution of an inactive connection fails with: names the connection,
    says why and what brings it back: the consent again (``reconnect``) for a grant, new
    credentials on the same connection for any other kind."""
    why = f"connection {name!r} ({connection_id}) is inactive: {message or reason or status}"
    if auth_kind in (AuthKind.OAUTH2.value, AuthKind.GITHUB_APP.value):
        return ConnectionInactive(
            f"{why}; reconnect it",
            hint=Hint("reconnect", {"id": connection_id, "app": app_key}),
            id=connection_id,
            reason=reason,
        )
    return ConnectionInactive(f"{why}; give it new credentials", id=connection_id, reason=reason)


class Stored(Handed, Protocol):
    """A stored connection, its status included (a store row has it all)."""

    @property
    def status(self) -> str: ...


class Described(Protocol):
    """What ``inactive_of`` says about a connection (the store's ``Details``)."""

    @property
    def name(self) -> str: ...
    @property
    def status_reason(self) -> str | None: ...
    @property
    def status_message(self) -> str | None: ...


def inactive_of(row: Stored, details: Described) -> ConnectionInactive:
    """``inactive_error`` for a connection as stored."""
    return inactive_error(
        row.id,
        details.name,
        row.status,
        details.status_reason,
        details.status_message,
        app_key=row.app_key,
        auth_kind=row.auth_kind,
    )


def check_scopes(name: str, connection_id: str, granted: Any, required: Sequence[str]) -> None:
    """Raise ``MissingScopes`` naming what ``required`` has that ``granted`` lacks."""
    missing = [s for s in required if s not in set(granted or [])]
    if missing:
        raise MissingScopes(
            f"connection {name!r} ({connection_id}) was not granted {', '.join(missing)}; "
            "reconnect it asking for them",
            id=connection_id,
            missing=missing,
        )

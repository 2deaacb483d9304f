"""What a connection's app says about how long its credentials live, as the service acts on it.

An auth method the provider is retiring (``AuthMethod.deprecated``) can still be connected
until its sunset, and every connection of it carries a ``method_deprecated`` warning; from
the sunset on (by the service's clock) a new one is refused with ``auth_method_retired`` and
nothing is stored.

A method whose credentials the provider deactivates when idle (``idle_expiry_days``) is kept
alive by ``service.keepalive``; an active connection of it unused for longer than
``keep_alive_after`` of the limit (half), or whose last keep-alive could not reach the
provider, carries an ``idle_expiry`` warning saying since when and until when. The rules
about dates are ``catalog.lifecycle``'s; the words are here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from gatekey.catalog.lifecycle import keep_alive_after
from gatekey.catalog.schema import App, AuthKind, AuthMethod
from gatekey.domain.connection import Status
from gatekey.errors import AuthMethodRetired, Hint
from gatekey.models import ConnectionWarning
from gatekey.store.rows import ConnectionRow

_KIND_NAMES = {
    AuthKind.OAUTH2: "OAuth",
    AuthKind.OAUTH2_CLIENT_CREDENTIALS: "OAuth client credentials",
    AuthKind.API_KEY: "API key",
    AuthKind.BASIC: "basic auth",
    AuthKind.CUSTOM: "custom",
    AuthKind.NONE: "no-auth",
}
"""What a message calls a method that has no label of its own."""


def named(method: AuthMethod) -> str:
    """The method as a message calls it: its label, else its kind in words."""
    return method.label or _KIND_NAMES[method.kind]


def _instead(app: App, method: AuthMethod) -> str:
    """'; connect with OAuth instead', or nothing when the entry names no other method."""
    move = method.deprecated.use_instead if method.deprecated else None
    if move is None:
        return ""
    try:
        other = app.method(move)
    except LookupError:  # the schema refuses this; a stale project app may still hold it
        return ""
    return f"; connect with {named(other)} instead"


def refuse_retired(app: App, method: AuthMethod, today: date) -> None:
    """Raise ``AuthMethodRetired`` when ``method``'s sunset has come by ``today``."""
    gone = method.deprecated
    if gone is None or not gone.retired(today):
        return
    move = gone.use_instead
    hint = Hint("start_authorization", {"app": app.key}) if move == AuthKind.OAUTH2 else None
    raise AuthMethodRetired(
        f"{app.name} switched {named(method)} connections off on {gone.sunset}: no new one "
        f"can be made{_instead(app, method)}",
        app=app.key,
        use_instead=move,
        hint=hint,
    )


def deprecation_warning(app: App, method: AuthMethod, today: date) -> ConnectionWarning | None:
    """The ``method_deprecated`` warning of a connection of ``method`` (None: not retiring)."""
    gone = method.deprecated
    if gone is None:
        return None
    label = f"{app.name} {named(method)} connections"
    if gone.sunset is None:
        said = f"{app.name} is retiring {named(method)} connections (since {gone.since})"
    elif gone.retired(today):
        said = f"{label} stopped working on {gone.sunset}"
    else:
        said = f"{label} stop working on {gone.sunset}"
    return ConnectionWarning(
        code="method_deprecated",
        message=said + _instead(app, method),
        sunset=gone.sunset,
        use_instead=AuthKind(gone.use_instead) if gone.use_instead else None,
        source=str(gone.source),
    )


def last_use(used: datetime | None, verified: datetime | None, created: datetime) -> datetime:
    """When a connection was last used: read, accepted by the provider, or created."""
    return max(t for t in (used, verified, created) if t is not None)


def warnings_of(row: ConnectionRow, app: App | None, now: datetime) -> list[ConnectionWarning]:
    """What a connection's view warns of, by its app's entry as it is ``now``."""
    if app is None:
        return []
    try:
        method = app.method(row.auth_kind)
    except LookupError:  # the app no longer offers the connection's method
        return []
    found = [deprecation_warning(app, method, now.date()), idle_warning(app, method, row, now)]
    return [w for w in found if w is not None]


def idle_warning(
    app: App, method: AuthMethod, row: ConnectionRow, now: datetime
) -> ConnectionWarning | None:
    """The ``idle_expiry`` warning of a connection that may die unused (None: no need)."""
    days = method.idle_expiry_days
    if days is None or row.status != Status.ACTIVE:
        return None
    since = last_use(row.last_used_at, row.verified_at, row.created_at)
    failed = row.keepalive_failed_at
    if failed is not None and failed < since:
        failed = None  # used since: that failure no longer matters
    if failed is None and now - since <= keep_alive_after(days):
        return None
    deadline = since + timedelta(days=days)
    when = f"on {deadline:%Y-%m-%d}" if deadline > now else f"it may have, on {deadline:%Y-%m-%d}"
    said = (
        f"unused since {since:%Y-%m-%d}; {app.name} deactivates {named(method)} credentials "
        f"unused for {days} days ({when})"
    )
    if failed is not None:
        said = f"the keep-alive on {failed:%Y-%m-%d} could not reach {app.name}; {said}"
    return ConnectionWarning(code="idle_expiry", message=said, at=deadline)

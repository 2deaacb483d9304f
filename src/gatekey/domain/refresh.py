"""When to refresh an OAuth2 token (RFC 6749 section 6), as a decision on what was read. Pure.

A caller about to hand out a token set, or a background sweep looking ahead, reads the row and
asks ``decide``: **serve** the token set as it is, **refresh** it (take the row's lease and ask
the provider), **wait** for the refresh another caller holds the lease for, or **fail** because
the provider failed lately and its backoff has not run out. A token that is still valid is
served rather than waited for, unless the caller must not have it (``forced``: the app refused
it as expired, or an idle grant is to be exercised).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from gatekey.domain import tokens


class Action(Enum):
    SERVE = "serve"
    REFRESH = "refresh"
    WAIT = "wait"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    retry_after: float | None = None
    """``FAIL``: seconds until the backoff after the last failed refresh runs out."""


SERVE = Decision(Action.SERVE)
REFRESH = Decision(Action.REFRESH)
WAIT = Decision(Action.WAIT)


@dataclass(frozen=True, slots=True)
class TokenState:
    """What the row says about its token set and the refreshes of it."""

    expires_at: datetime | None
    last_refreshed_at: datetime | None
    retry_at: datetime | None = None
    """Set after a failed refresh: no token request before then."""
    lease_until: datetime | None = None
    """Set while some caller, in any process, holds the row's refresh lease."""


def due(
    expires_at: datetime | None,
    last_refreshed_at: datetime | None,
    margin: timedelta,
    now: datetime,
    ahead: timedelta | None = None,
) -> bool:
    """Whether a resolution must refresh first, or with ``ahead``, a background sweep should
    (``domain.tokens.refresh_due`` and ``refresh_ahead_due``)."""
    if ahead is None:
        return tokens.refresh_due(expires_at, last_refreshed_at, margin, now)
    return tokens.refresh_ahead_due(expires_at, last_refreshed_at, margin, now, ahead)


def idle(last_refreshed_at: datetime | None, idle_days: int | None, now: datetime) -> bool:
    """Whether the grant sat unrefreshed past the app's ``idle_refresh_days``."""
    return (
        idle_days is not None
        and last_refreshed_at is not None
        and last_refreshed_at < now - timedelta(days=idle_days)
    )


def is_stale(current: str, stale: str | None) -> bool:
    """Whether the token the app refused (``stale``) is the one stored now (in constant time:
    a token is a secret); if not, another caller refreshed it already."""
    return stale is not None and hmac.compare_digest(current.encode(), stale.encode())


def decide(
    token: TokenState,
    *,
    now: datetime,
    margin: timedelta,
    forced: bool = False,
    ahead: timedelta | None = None,
    leased: bool = False,
) -> Decision:
    """Say what to do with the token set ``token`` describes.

    ``leased``: a caller elsewhere holds the lease (``token.lease_until`` is live, or claiming
    the lease just failed).
    """
    if not forced and not due(token.expires_at, token.last_refreshed_at, margin, now, ahead):
        return SERVE
    valid = token.expires_at is None or token.expires_at > now
    if token.retry_at is not None and now < token.retry_at:
        if valid and not forced:
            return SERVE
        return Decision(Action.FAIL, (token.retry_at - now).total_seconds())
    if leased or (token.lease_until is not None and token.lease_until >= now):
        return SERVE if valid and not forced else WAIT
    return REFRESH

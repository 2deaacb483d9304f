"""Token sets: merging token responses, expiry, the refresh margin, backoff. Pure, no I/O.

RFC 6749 section 5.1 and 6: a refresh response may omit the refresh token (the old one stays
valid) and may omit ``scope`` (unchanged). Providers add fields of their own (Salesforce
``instance_url``, Slack ``team``); they are kept, never blindly replaced.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from gatekey.domain.bodies import dig

#: Lifetime assumed for a client-credentials token whose response names none: fetched again
#: hourly rather than trusted forever.
DEFAULT_UNREFRESHABLE_LIFETIME = timedelta(hours=1)
MAX_BACKOFF = timedelta(minutes=5)
#: Fields of a token response that describe the response, not the grant.
_TRANSIENT = frozenset({"expires_in", "expires_at", "error", "error_description", "ok"})
#: What an execution may see of a token set.
HANDED_OUT = ("access_token", "token_type")


def merge(
    old: Mapping[str, Any], response: Mapping[str, Any], keep_as_config: Mapping[str, str] = {}
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the new secret payload and the config values a token response brings.

    The response wins field by field; a missing or empty refresh token keeps the old one;
    ``keep_as_config`` maps config names to dotted paths into the response (``instance_url``,
    ``team.id``): those values become config (they are not secret), and a top-level one
    leaves the secret.
    """
    secret = {k: v for k, v in old.items() if k not in _TRANSIENT}
    config: dict[str, Any] = {}
    for name, path in keep_as_config.items():
        value = dig(response, path)
        if isinstance(value, str | int | float | bool) and value != "":
            config[name] = value
    moved = {path for path in keep_as_config.values() if "." not in path}
    for key, value in response.items():
        if key in _TRANSIENT or key in moved:
            continue
        if key == "refresh_token" and not value:
            continue
        secret[key] = value
    return secret, config


def expires_at(
    response: Mapping[str, Any],
    sent_at: datetime,
    *,
    refetchable: bool,
    default_lifetime: int | None = None,
) -> datetime | None:
    """Return when the access token expires, counted from when the request was sent.

    Counting from the send time, not the receipt, errs on the early side. A response without
    a usable ``expires_in`` lasts the app's ``default_lifetime`` (seconds) when it declares
    one (Salesforce: the org's session timeout). Otherwise a token the provider gives no
    lifetime is taken as not expiring (GitHub OAuth apps, ClickUp, Todoist), unless Gatekey can
    fetch a new one unattended (``refetchable``: client credentials), which it then does every
    ``DEFAULT_UNREFRESHABLE_LIFETIME``.
    """
    raw = response.get("expires_in")
    seconds: float | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        seconds = float(raw)
    elif isinstance(raw, str) and raw.strip().isdigit():
        seconds = float(raw.strip())
    if seconds is not None and seconds > 0:
        return sent_at + timedelta(seconds=seconds)
    if default_lifetime is not None:
        return sent_at + timedelta(seconds=default_lifetime)
    if not refetchable:
        return None
    return sent_at + DEFAULT_UNREFRESHABLE_LIFETIME


def margin(issued_at: datetime | None, expires: datetime, app_margin: timedelta) -> timedelta:
    """Return how long before expiry to refresh: the app's margin or half the lifetime.

    Half the lifetime keeps a 60-second token from being refreshed on every read.
    """
    if issued_at is None or expires <= issued_at:
        return app_margin
    return min(app_margin, (expires - issued_at) / 2)


def refresh_due(
    expires: datetime | None, issued_at: datetime | None, app_margin: timedelta, now: datetime
) -> bool:
    """Tell whether the access token should be replaced before it is handed out."""
    if expires is None:
        return False
    return now >= expires - margin(issued_at, expires, app_margin)


def refresh_ahead_due(
    expires: datetime | None,
    issued_at: datetime | None,
    app_margin: timedelta,
    now: datetime,
    ahead: timedelta,
) -> bool:
    """Tell whether a background sweep should replace the access token now, because it falls
    due (``refresh_due``) within ``ahead``.

    Only if that leaves the token at least half its lifetime: a token whose whole refresh
    window fits in the lookahead (seconds-long tokens, a sweep every minute) would otherwise be
    replaced on every sweep of every replica, each new one as due as the last. Such a token
    is replaced once it has expired, at most once per lifetime; resolutions that use it
    meanwhile refresh it when it falls due.
    """
    if expires is None:
        return False
    if now >= expires:
        return True
    due_at = expires - margin(issued_at, expires, app_margin)
    if issued_at is not None and expires > issued_at:
        midlife = issued_at + (expires - issued_at) / 2
        if due_at - ahead < midlife:
            return False
    return now + ahead >= due_at


def granted_scopes(
    response: Mapping[str, Any],
    requested: Sequence[str],
    separator: str,
    response_separator: str | None = None,
) -> list[str]:
    """Return the scopes the provider granted; an absent ``scope`` means the requested ones.

    The response's ``scope`` is split by ``response_separator`` when the app names one
    (GitHub answers ``repo,gist`` to a space-separated request), else as requests are.
    """
    raw = response.get("scope")
    if isinstance(raw, list):
        return [str(s) for s in raw if str(s).strip()]
    if isinstance(raw, str) and raw.strip():
        if response_separator is not None and response_separator.strip():
            parts = raw.split(response_separator)
        elif separator.strip() in ("", ","):
            parts = raw.replace(",", " ").split()
        else:
            parts = raw.split()
        return [p.strip() for p in parts if p.strip()]
    return list(requested)


def backoff(
    failures: int, retry_after: float | None, rng: random.Random | None = None
) -> timedelta:
    """Return how long to wait before the next try: full jitter, at least ``Retry-After``.

    Exponential from 1 s, capped at ``MAX_BACKOFF``.
    """
    ceiling = min(MAX_BACKOFF.total_seconds(), 2.0 ** max(failures, 0))
    wait = (rng or random).uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        wait = max(wait, min(retry_after, 3600.0))
    return timedelta(seconds=wait)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Parse ``Retry-After``: delta seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)

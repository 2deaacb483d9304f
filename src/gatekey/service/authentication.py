"""Who a bearer token is: the API key behind it, read at most once per
``GATEKEY_API_KEY_CACHE_SECONDS`` per process (the revocation window: ``service.key_cache``),
and the failed attempts counted per client address."""

from __future__ import annotations

from gatekey.domain.connection import Role
from gatekey.errors import AuthenticationFailed
from gatekey.ratelimit import Limiter, Limits
from gatekey.service.access import digest_of
from gatekey.service.actor import Actor
from gatekey.service.budgets import FAILURES
from gatekey.service.context import Context
from gatekey.service.key_cache import KeyCache
from gatekey.store import projects as project_rows


class Authenticator:
    """Turns a bearer token into the ``Actor`` it acts for; every failure looks the same."""

    def __init__(self, ctx: Context, keys: KeyCache, limiter: Limiter, limits: Limits) -> None:
        self.ctx = ctx
        self.keys = keys
        self.limiter = limiter
        self.limits = limits

    def authenticate(
        self, token: str | None, *, client: str | None = None, peek: bool = True
    ) -> Actor:
        """Return the actor of a bearer token; every failure looks the same.

        With ``client`` (the caller's address), failures are counted: past
        ``auth_failures_per_client`` a minute, every attempt from there is refused with
        ``rate_limited`` until the budget refills, whether the key exists or not. A key is
        read at most once per ``GATEKEY_API_KEY_CACHE_SECONDS`` per process (the revocation
        window: ``service.key_cache``). ``peek=False``, for a request whose next call spends
        a budget: the look at ``client``'s failed attempts is left to that call
        (``Actor.address``), so that the request costs one limiter call.
        """
        digest = digest_of(token)
        known = self.keys.get(digest, self.ctx.now()) if digest else None
        if known is not None:
            if peek:
                self.ctx.budgets.look_at_failures(client)
            return Actor(known.project_id, known.key_id, known.role, None if peek else client)
        self.ctx.budgets.look_at_failures(client)
        row = None
        if digest is not None:
            with self.ctx.db.read() as conn:
                row = project_rows.key_by_hash(conn, digest)
        if (
            row is None
            or row.revoked_at is not None
            or (row.expires_at is not None and row.expires_at <= self.ctx.now())
        ):
            self.ctx.budgets.count_failure(client)
            raise AuthenticationFailed("missing, unknown, expired or revoked API key")
        assert digest is not None
        self.keys.put(digest, row.project_id, row.id, Role(row.role), row.expires_at)
        return Actor(project_id=row.project_id, key_id=row.id, role=Role(row.role))

    def cached_actor(
        self, token: str | None, *, client: str | None = None, peek: bool = True
    ) -> Actor | None:
        """``authenticate`` without I/O: the actor of a key this process read lately, or None
        when only ``authenticate`` can tell (a database read, a limiter call to Redis)."""
        digest = digest_of(token)
        known = self.keys.get(digest, self.ctx.now()) if digest else None
        if known is None:
            return None
        if peek and client and self.limits.rate(FAILURES) is not None:
            if self.limiter.shared:
                return None
            self.ctx.budgets.look_at_failures(client)
        return Actor(known.project_id, known.key_id, known.role, None if peek else client)

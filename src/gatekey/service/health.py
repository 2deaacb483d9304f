"""Readiness: whether this process can serve credentials right now."""

from __future__ import annotations

from sqlalchemy import text

from gatekey.errors import GatekeyError
from gatekey.models import Readiness
from gatekey.ratelimit import Limiter, RedisLimiter
from gatekey.service.context import Context
from gatekey.service.master_keys import MasterKeys


class Health:
    def __init__(self, ctx: Context, master_keys: MasterKeys, limiter: Limiter) -> None:
        self.ctx = ctx
        self.master_keys = master_keys
        self.limiter = limiter

    def readiness(self) -> Readiness:
        """Check the database, the master key, the audit writer and (if used) Redis.

        Redis only degrades: without it rate limits pass everything, credentials still flow.
        """
        checks: dict[str, str] = {}
        try:
            with self.ctx.db.read() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # the reason's type only: messages may name hosts and users
            checks["database"] = f"failing ({type(exc).__name__})"
        try:
            self.master_keys.check()
            checks["master_keys"] = "ok"
        except GatekeyError as exc:
            checks["master_keys"] = f"failing ({exc.code})"
        except Exception as exc:
            checks["master_keys"] = f"failing ({type(exc).__name__})"
        checks["audit_writer"] = "ok" if self.ctx.audit.alive else "stopped"
        if isinstance(self.limiter, RedisLimiter):
            checks["redis"] = "ok" if self.limiter.ping() else "unreachable (limits pass)"
        ready = all(checks[k] == "ok" for k in ("database", "master_keys", "audit_writer"))
        return Readiness(ready=ready, checks=checks)

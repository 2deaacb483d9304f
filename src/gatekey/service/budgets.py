"""The per-minute budgets of ``Limits``, each request charged in one limiter call.

A credential read by an API key spends its key's and its project's budget; over HTTP it also
looks at its address's failed API-key attempts (``Actor.address``, left to this call by
``authenticate``). All of it is one ``Limiter.charge``: one lock in memory, one round trip to
Redis. A refused request counts against none of its budgets.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from gatekey.errors import RateLimited
from gatekey.metrics import Metrics
from gatekey.ratelimit import Charge, Limiter, Limits

if TYPE_CHECKING:
    from gatekey.service.actor import Actor

FAILURES = "auth_failures_per_client"


def failures_refused(wait: float) -> RateLimited:
    return RateLimited(
        f"too many failed API-key attempts from this address; try again in {math.ceil(wait)} s",
        retry_after=round(wait, 3),
    )


class Budgets:
    def __init__(self, limiter: Limiter, limits: Limits, metrics: Metrics) -> None:
        self.limiter = limiter
        self.limits = limits
        self._metrics = metrics

    def spend(self, limit: str, subject: str, what: str) -> None:
        """Count a request against one budget; raise ``RateLimited`` when it is spent."""
        rate = self.limits.rate(limit)
        if rate is None:
            return
        refusal = self.limiter.charge((Charge(f"{limit}:{subject}", rate),))
        if refusal is not None:
            raise self._refused(limit, rate.count, what, refusal.wait)

    def spend_actor(self, kind: str, actor: Actor, what: str) -> None:
        """The per-key and per-project budgets of ``kind`` (and the look at the actor's
        address's failed attempts), in one call; the local operator has none."""
        if actor.is_operator:
            return
        charges, whats = [], []
        for limit, subject, label in (
            (f"{kind}_per_key", actor.key_id, " for this API key"),
            (f"{kind}_per_project", actor.project_id, " in this project"),
        ):
            rate = self.limits.rate(limit)
            if rate is not None:
                charges.append(Charge(f"{limit}:{subject}", rate))
                whats.append((limit, rate.count, what + label))
        failures = self.limits.rate(FAILURES) if actor.address else None
        if failures is not None:
            charges.append(Charge(f"{FAILURES}:{actor.address}", failures, peek=True))
        if not charges:
            return
        refusal = self.limiter.charge(charges)
        if refusal is None:
            return
        if refusal.which == len(whats):
            raise failures_refused(refusal.wait)
        limit, count, label = whats[refusal.which]
        raise self._refused(limit, count, label, refusal.wait)

    def look_at_failures(self, client: str | None) -> None:
        """Raise ``RateLimited`` while ``client`` has spent its budget of failed API-key
        attempts (whether the key it sends now exists or not)."""
        rate = self.limits.rate(FAILURES) if client else None
        if rate is not None:
            refusal = self.limiter.charge((Charge(f"{FAILURES}:{client}", rate, peek=True),))
            if refusal is not None:
                raise failures_refused(refusal.wait)

    def count_failure(self, client: str | None) -> None:
        """Count a failed API-key attempt from ``client``."""
        rate = self.limits.rate(FAILURES) if client else None
        if rate is not None:
            self.limiter.charge((Charge(f"{FAILURES}:{client}", rate),))

    def _refused(self, limit: str, count: int, what: str, wait: float) -> RateLimited:
        self._metrics.rate_limited.labels(limit).inc()
        return RateLimited(
            f"too many {what} (at most {count} a minute); try again in {math.ceil(wait)} s",
            retry_after=round(wait, 3),
        )

"""Rate limits: GCRA (a token bucket kept as one timestamp) in memory or in Redis.

In memory, each process counts on its own: right for the embedded install and for one server.
With ``GATEKEY_REDIS_URL`` every replica shares one budget per bucket (one Lua script per hit,
atomic in Redis). Should Redis be unreachable, requests are let through and the failure logged:
credentials keep flowing while the limiter is down. Calls to Redis have short timeouts (tens of
milliseconds) and no retries, behind a circuit breaker (``gatekey.breaker``): once Redis has
failed a few times in a row, requests stop asking it for a cool-off, then one probes. A Redis
that hangs costs one short wait per cool-off, not one per request; the warning is logged once
each time the circuit opens.

A request is charged in one limiter call (``charge``) whatever the number of budgets it
spends: the per-key and per-project budgets of a credential read, and the look at its
address's failed API-key attempts, are one lock in memory and one script in Redis.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from gatekey.breaker import CircuitBreaker

log = logging.getLogger(__name__)
EPSILON = 1e-9  # seconds; float sums such as 0.11 - 0.1 must not refuse a request due now


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` requests per ``seconds``, in a burst or spread out."""

    count: int
    seconds: float = 60.0

    @property
    def interval(self) -> float:
        return self.seconds / self.count


@dataclass(frozen=True, slots=True)
class Charge:
    """One bucket a request is charged to; a ``peek`` only looks (refused while the bucket is
    spent, never counted)."""

    bucket: str
    rate: Rate
    peek: bool = False


class Refusal(NamedTuple):
    """Which charge (its index) refused a request, and the seconds until it would allow one."""

    which: int
    wait: float


class Limiter(Protocol):
    shared: bool
    """Whether a call leaves the process (Redis): then it may block for its timeout."""

    def charge(self, charges: Sequence[Charge]) -> Refusal | None:
        """Charge one request to every bucket, in one call: if any bucket is spent, return
        the first such and count nothing; else count the request in each that is no peek."""

    def hit(self, bucket: str, rate: Rate) -> float | None:
        """Count one request; return None if allowed, else the seconds until one would be."""

    def wait_for(self, bucket: str, rate: Rate) -> float | None:
        """Return the seconds until ``bucket`` allows a request, or None if it does now."""


def _hit(limiter: Limiter, bucket: str, rate: Rate, peek: bool) -> float | None:
    refusal = limiter.charge((Charge(bucket, rate, peek),))
    return None if refusal is None else refusal.wait


class MemoryLimiter:
    """GCRA per bucket in this process; buckets idle past their window are dropped."""

    shared = False

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._due: dict[str, float] = {}
        self._lock = threading.Lock()
        self._sweep_at = clock() + 60

    def charge(self, charges: Sequence[Charge]) -> Refusal | None:
        with self._lock:
            now = self._clock()
            if now >= self._sweep_at:
                self._due = {k: v for k, v in self._due.items() if v > now}
                self._sweep_at = now + 60
            dues = []
            for index, charge in enumerate(charges):
                due = max(self._due.get(charge.bucket, now), now) + charge.rate.interval
                wait = due - now - charge.rate.seconds
                if wait > EPSILON:
                    return Refusal(index, wait)
                dues.append(due)
            for charge, due in zip(charges, dues, strict=True):
                if not charge.peek:
                    self._due[charge.bucket] = due
            return None

    def hit(self, bucket: str, rate: Rate) -> float | None:
        return _hit(self, bucket, rate, peek=False)

    def wait_for(self, bucket: str, rate: Rate) -> float | None:
        return _hit(self, bucket, rate, peek=True)


# KEYS: the buckets; ARGV, three per bucket: interval and window in microseconds, 1 to count
# the hit or 0 to peek. Returns {0, 0} when allowed (and counted), else {index from 1, wait}.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local dues = {}
for i, key in ipairs(KEYS) do
  local due = tonumber(redis.call('GET', key) or now)
  if due < now then due = now end
  local next_due = due + tonumber(ARGV[3 * i - 2])
  local wait = next_due - now - tonumber(ARGV[3 * i - 1])
  if wait > 0 then return {i, wait} end
  dues[i] = next_due
end
for i, key in ipairs(KEYS) do
  if ARGV[3 * i] == '1' then
    redis.call('SET', key, dues[i], 'PX', math.ceil((dues[i] - now) / 1000) + 1)
  end
end
return {0, 0}
"""


class RedisLimiter:
    """GCRA in Redis, shared by every process and replica that uses the same server.

    ``timeout`` bounds connecting and each answer; after ``failures`` failures in a row the
    limiter lets requests through without asking Redis for ``cool_off`` seconds, then probes.
    """

    shared = True

    def __init__(
        self,
        url: str,
        prefix: str = "gatekey:rate:",
        *,
        timeout: float = 0.05,
        failures: int = 3,
        cool_off: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._redis: Any = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),  # redis-py retries 3 times by default
        )
        self._script: Any = self._redis.register_script(_GCRA)
        self._prefix = prefix
        self.breaker = CircuitBreaker(failures, cool_off, clock)

    def charge(self, charges: Sequence[Charge]) -> Refusal | None:
        if not charges or not self.breaker.allow():
            return None
        args: list[Any] = []
        for charge in charges:
            args += [
                math.ceil(charge.rate.interval * 1_000_000),
                math.ceil(charge.rate.seconds * 1_000_000),
                "0" if charge.peek else "1",
            ]
        try:
            index, wait = self._script(keys=[self._prefix + c.bucket for c in charges], args=args)
        except Exception as exc:  # the limiter must not take credentials down with it
            if self.breaker.failed():
                log.warning(
                    "rate limiter: Redis unavailable (%s), not limiting; asking again in %g s",
                    type(exc).__name__,
                    self.breaker.cool_off,
                )
            return None
        if self.breaker.succeeded():
            log.info("rate limiter: Redis answers again, limiting")
        return Refusal(int(index) - 1, int(wait) / 1_000_000) if int(index) > 0 else None

    def hit(self, bucket: str, rate: Rate) -> float | None:
        return _hit(self, bucket, rate, peek=False)

    def wait_for(self, bucket: str, rate: Rate) -> float | None:
        return _hit(self, bucket, rate, peek=True)

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except Exception:
            return False

    def close(self) -> None:
        self._redis.close()


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-minute budgets; 0 turns one off. See ``Settings`` for what each one covers."""

    resolve_per_key: int = 60_000
    resolve_per_project: int = 300_000
    oauth_per_key: int = 60
    oauth_per_project: int = 300
    callback_per_client: int = 60
    callback_per_project: int = 300
    signin_per_client: int = 10
    signin_per_project: int = 60
    auth_failures_per_client: int = 30

    def rate(self, name: str) -> Rate | None:
        count = int(getattr(self, name))
        return Rate(count) if count > 0 else None

"""Prometheus metrics: counters the service bumps, latencies of provider calls, and connection
counts read from the database when scraped.

Labels are app keys, operations and outcome codes, never an id, a name, a URL or a value, so
no secret and no customer data reaches a label; their cardinality is bounded by the catalog.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from gatekey.store.database import Database
from gatekey.store.tables import connections

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _ConnectionCounts(Collector):
    """``gatekey_connections{app,status}`` from one grouped count at scrape time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "gatekey_connections", "Connections by app and status", labels=["app", "status"]
        )
        inactive = GaugeMetricFamily(
            "gatekey_connections_inactive", "Connections that need to be reconnected"
        )
        query = select(connections.c.app_key, connections.c.status, func.count()).group_by(
            connections.c.app_key, connections.c.status
        )
        total_inactive = 0
        with self.db.read() as conn:
            for app, status, count in conn.execute(query).all():
                gauge.add_metric([app, status], count)
                if status != "active":
                    total_inactive += count
        inactive.add_metric([], total_inactive)
        yield gauge
        yield inactive

    def describe(self) -> Iterator[Metric]:
        return iter(())


class _Resolutions(Collector):
    """``gatekey_credential_resolutions_total{outcome}``, counted without a lock on success.

    A resolution that succeeds is one ``next`` on an ``itertools.count`` (one C call, atomic
    under the GIL), since every workflow step makes one: a ``Counter`` takes a lock and three
    Python calls. A scrape reads the count by taking one more number from it, which it
    remembers to subtract. Failures, rarer, are counted under a lock by their code.
    """

    def __init__(self) -> None:
        self._ok = itertools.count()
        self._peeks = 0
        self._failed: dict[str, int] = {}
        self._lock = threading.Lock()
        self.ok: Callable[[], object] = functools.partial(next, self._ok)

    def failed(self, outcome: str) -> None:
        with self._lock:
            self._failed[outcome] = self._failed.get(outcome, 0) + 1

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            ok = next(self._ok) - self._peeks
            self._peeks += 1
            failed = sorted(self._failed.items())
        family = CounterMetricFamily(
            "gatekey_credential_resolutions",
            "Credential resolutions by outcome (ok or the error code)",
            labels=["outcome"],
        )
        family.add_metric(["ok"], ok)
        for outcome, count in failed:
            family.add_metric([outcome], count)
        yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())


class Metrics:
    """One registry per runtime (tests open several in one process)."""

    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._resolutions = _Resolutions()
        self.registry.register(self._resolutions)
        self.resolved_ok = self._resolutions.ok
        """Count one successful resolution (the hot path's call: no Python frame of its own)."""
        self.refreshes = Counter(
            "gatekey_token_refreshes",
            "Token requests (refresh or client credentials) by app and outcome",
            ["app", "outcome"],
            registry=self.registry,
        )
        self.provider_seconds = Histogram(
            "gatekey_provider_request_seconds",
            "Time providers took to answer, by app and operation",
            ["app", "operation"],
            buckets=_SECONDS,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "gatekey_rate_limited",
            "Requests refused by a rate limit, by limit",
            ["limit"],
            registry=self.registry,
        )
        self.registry.register(_ConnectionCounts(db))

    def resolved(self, outcome: str = "ok") -> None:
        if outcome == "ok":
            self.resolved_ok()
        else:
            self._resolutions.failed(outcome)

    @contextmanager
    def provider_call(self, app: str, operation: str) -> Iterator[None]:
        """Time one call to a provider (whatever its outcome)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.provider_seconds.labels(app, operation).observe(time.perf_counter() - start)

    def render(self) -> bytes:
        return generate_latest(self.registry)

"""Rate limits: GCRA in memory (with a hand-driven clock) and in Redis, shared by replicas."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gatekey.breaker import State
from gatekey.errors import RateLimited
from gatekey.ratelimit import Charge, Limiter, Limits, MemoryLimiter, Rate, RedisLimiter
from gatekey.runtime import open_runtime
from gatekey.service import Actor
from gatekey.settings import Settings
from tests.fakes.keys import MASTER_KEY
from tests.fakes.providers import GOOD_SENDGRID, FakeProviders
from tests.fakes.stall import StallingPeer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_count_then_one_per_interval() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)
    rate = Rate(3, 60)
    assert [limiter.hit("k", rate) for _ in range(3)] == [None, None, None]
    wait = limiter.hit("k", rate)
    assert wait == pytest.approx(20)
    assert limiter.wait_for("k", rate) == pytest.approx(20)
    assert limiter.hit("other", rate) is None
    clock.now += 19.9
    assert limiter.hit("k", rate) is not None
    clock.now += 0.2
    assert limiter.hit("k", rate) is None
    assert limiter.hit("k", rate) is not None


def test_refused_hits_do_not_push_the_wait_further() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)
    rate = Rate(1, 10)
    limiter.hit("k", rate)
    for _ in range(100):
        assert limiter.hit("k", rate) == pytest.approx(10)
    clock.now += 10
    assert limiter.hit("k", rate) is None


def test_idle_buckets_are_dropped() -> None:
    clock = Clock()
    limiter = MemoryLimiter(clock)
    for n in range(1000):
        limiter.hit(f"k{n}", Rate(5, 1))
    clock.now += 61
    limiter.hit("fresh", Rate(5, 1))
    assert set(limiter._due) == {"fresh"}


def _charges_one_call(limiter: Limiter, bucket: str) -> None:
    """``charge``: several buckets in one call, all or none counted, a peek never counted."""
    key, project, failures = f"{bucket}-key", f"{bucket}-project", f"{bucket}-failures"
    two, three = Rate(2, 60), Rate(3, 60)
    both = [Charge(key, two), Charge(project, three), Charge(failures, Rate(1, 60), peek=True)]
    assert limiter.charge(both) is None
    assert limiter.charge(both) is None
    refused = limiter.charge(both)
    assert refused is not None and refused.which == 0 and 29 < refused.wait <= 30
    assert limiter.charge([Charge(project, three)]) is None, "the refused call counted nothing"
    refused = limiter.charge([Charge(project, three)])
    assert refused is not None and refused.which == 0
    assert limiter.charge([Charge(failures, Rate(1, 60))]) is None, "the peeks counted nothing"
    refused = limiter.charge([Charge(f"{bucket}-free", two), Charge(failures, Rate(1, 60))])
    assert refused is not None and refused.which == 1
    assert limiter.wait_for(f"{bucket}-free", two) is None, "nor did the first of a refused call"


def test_one_call_charges_several_buckets_in_memory() -> None:
    _charges_one_call(MemoryLimiter(Clock()), "mem")


def test_limits_turn_off_at_zero() -> None:
    assert Limits(resolve_per_key=0).rate("resolve_per_key") is None
    assert Limits().rate("oauth_per_key") == Rate(60, 60)


@pytest.fixture
def redis_url() -> str:
    """Redis tests run when ``GATEKEY_TEST_REDIS_URL`` is set (CI sets it)."""
    url = os.environ.get("GATEKEY_TEST_REDIS_URL")
    if not url:
        pytest.skip("GATEKEY_TEST_REDIS_URL is not set")
    return url


@pytest.fixture
def bucket() -> str:
    return f"test-{uuid.uuid4().hex}"


def test_replicas_share_one_budget_through_redis(redis_url: str, bucket: str) -> None:
    first, second = RedisLimiter(redis_url), RedisLimiter(redis_url)
    try:
        rate = Rate(4, 60)
        answers = [(first if n % 2 else second).hit(bucket, rate) for n in range(4)]
        assert answers == [None] * 4
        wait = first.hit(bucket, rate)
        assert wait is not None and 14 < wait <= 15
        assert second.wait_for(bucket, rate) == pytest.approx(wait, abs=0.5)
        assert second.hit(f"{bucket}-other", rate) is None
    finally:
        first.close()
        second.close()


def test_one_call_charges_several_buckets_in_redis(redis_url: str, bucket: str) -> None:
    limiter = RedisLimiter(redis_url)
    try:
        _charges_one_call(limiter, bucket)
    finally:
        limiter.close()


def test_an_unreachable_redis_lets_requests_through(
    bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0")
    try:
        assert [limiter.hit(bucket, Rate(1, 60)) for _ in range(3)] == [None] * 3
    finally:
        limiter.close()
    assert "Redis unavailable (ConnectionError), not limiting" in caplog.text
    assert caplog.text.count("Redis unavailable") == 1


def _burst(limiter: RedisLimiter, bucket: str, hits: int, threads: int = 4) -> list[float | None]:
    answers: list[float | None] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(hits // threads):
            answer = limiter.hit(bucket, Rate(1, 60))
            with lock:
                answers.append(answer)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return answers


def test_a_stalled_redis_costs_one_short_wait_per_cool_off(
    bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis accepts and never answers: after 3 failures no request waits on it until the
    cool-off ends; then one request (of many at once) probes, and the circuit opens again."""
    clock = Clock()
    with StallingPeer() as peer:
        limiter = RedisLimiter(peer.url, timeout=0.05, failures=3, cool_off=10, clock=clock)
        try:
            first = [limiter.hit(bucket, Rate(1, 60)) for _ in range(3)]
            assert first == [None] * 3  # let through: the limiter fails open
            assert peer.connections() == 3  # one attempt each, no retries
            assert limiter.breaker.state is State.OPEN
            assert _burst(limiter, bucket, 200) == [None] * 200
            assert peer.connections() == 3  # nobody asked the stalled Redis
            clock.now += 10
            assert _burst(limiter, bucket, 200) == [None] * 200
            assert peer.connections() == 4  # one probe for 200 requests
            assert limiter.breaker.state is State.OPEN
            clock.now += 10
            assert limiter.wait_for(bucket, Rate(1, 60)) is None
            assert peer.connections() == 5
        finally:
            limiter.close()
    warnings = [r for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert [r.levelno for r in warnings] == [logging.WARNING]  # once for the opening


def test_the_circuit_closes_when_redis_answers_again(
    redis_url: str, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    target = urlsplit(redis_url)
    with StallingPeer() as peer:
        limiter = RedisLimiter(peer.url, timeout=0.05, failures=1, cool_off=10, clock=clock)
        try:
            assert limiter.hit(bucket, Rate(1, 60)) is None
            assert limiter.breaker.state is State.OPEN
            peer.forward_to = (target.hostname or "127.0.0.1", target.port or 6379)
            clock.now += 10
            caplog.set_level(logging.INFO, logger="gatekey.ratelimit")
            assert limiter.hit(bucket, Rate(1, 60)) is None  # the probe, counted by Redis
            assert limiter.breaker.state is State.CLOSED
            wait = limiter.hit(bucket, Rate(1, 60))
            assert wait is not None and wait > 50  # limiting again
        finally:
            limiter.close()
    assert "Redis answers again" in caplog.text


def test_requests_of_a_service_behind_a_stalled_redis_do_not_wait(
    tmp_path: Path, database_url: str
) -> None:
    """The settings reach the limiter: 30 credential reads by an API key (two budgets each)
    against a stalled Redis make 3 attempts at it, for the first requests only."""
    with StallingPeer() as peer:
        settings = Settings(
            home=tmp_path / "home",
            database_url=database_url,
            master_keys=MASTER_KEY,
            redis_url=peer.url,
            redis_timeout=0.05,
            redis_breaker_failures=3,
            redis_cool_off=600,
        )
        runtime = open_runtime(settings, transport=FakeProviders().transport())
        try:
            service = runtime.service
            project, _ = service.system.bootstrap()
            operator = Actor.operator(project.id)
            conn = service.connections.create(
                operator, app="sendgrid", name="S", fields={"api_key": GOOD_SENDGRID}
            )
            key = service.access.create_key(operator, name="worker", role="runtime")
            worker = service.system.authenticate(key.token)
            for _ in range(30):
                try:
                    service.credentials.resolve(worker, conn.id)
                except RateLimited:  # pragma: no cover - the limiter fails open
                    raise AssertionError("a stalled limiter refused a request") from None
            assert peer.connections() == 3
        finally:
            runtime.close()

"""Rate limits: GCRA in memory (with a hand-driven clock) and in Redis, shared by replicas."""

from __future__ import annotations

import os
import uuid

import pytest

from gatekey.ratelimit import Limits, MemoryLimiter, Rate, RedisLimiter


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

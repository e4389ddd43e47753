"""The per-key budget: 120 requests a minute, shared between processes through Redis."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from perpex.errors import RateLimitedError
from perpex.ratelimit import LIMITS, acquire, local_limiter, redis_limiter


def test_a_key_gets_a_burst_of_120_then_two_a_second() -> None:
    limiter = local_limiter()
    assert all(limiter.reserve("alice-key") == 0 for _ in range(120))
    wait = limiter.reserve("alice-key")
    assert 0.45 < wait <= 0.5
    assert limiter.reserve("bob-key") == 0  # another key has its own budget


def test_waiting_longer_than_allowed_is_a_rate_limit_error() -> None:
    limiter = local_limiter()
    for _ in range(120):
        limiter.reserve("alice-key")
    slept: list[float] = []
    with pytest.raises(RateLimitedError, match="120 requests a minute"):
        acquire(limiter, "alice-key", max_wait=0.1, sleep=slept.append)
    assert slept == []


def test_two_processes_share_one_budget_through_redis() -> None:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.fail("REDIS_URL is not set; run the suite through `make test`")
    client = redis.Redis.from_url(url)
    key = f"test-{uuid.uuid4().hex}"
    first, second = redis_limiter(client), redis_limiter(client)
    try:
        granted = sum(1 for i in range(130) if (first if i % 2 else second).reserve(key) == 0)
        assert granted == LIMITS.account_capacity
        assert first.reserve(key) > 0
    finally:
        client.delete(f"perpex:rl:acct:{key}")

from __future__ import annotations

import os
import uuid

import pytest
import redis

from exchange_common.ratelimit import (
    BudgetExhausted,
    CountingLimiter,
    Limits,
    LocalRateLimiter,
    PrepaidLimiter,
    RedisRateLimiter,
    acquire,
    backoff_delay,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_account_gets_a_burst_of_20_then_waits_45_ms_per_request() -> None:
    clock = FakeClock()
    limiter = LocalRateLimiter(Limits(ip_capacity=10_000, ip_refill_per_s=10_000), clock=clock)
    assert [limiter.reserve("alice") for _ in range(20)] == [0.0] * 20
    wait = limiter.reserve("alice")
    assert wait == pytest.approx(0.045)
    # Another account has its own bucket.
    assert limiter.reserve("bob") == 0.0
    clock.now += wait
    assert limiter.reserve("alice") == 0.0


def test_the_ip_budget_is_50_per_second_across_accounts() -> None:
    clock = FakeClock()
    limiter = LocalRateLimiter(clock=clock)
    granted = sum(limiter.reserve(f"acct-{i % 5}") == 0.0 for i in range(60))
    assert granted == 50
    clock.now += 0.1
    assert sum(limiter.reserve(None) == 0.0 for _ in range(10)) == 5


def test_a_reservation_of_several_requests_pays_for_all_of_them_or_none() -> None:
    clock = FakeClock()
    limiter = LocalRateLimiter(Limits(ip_capacity=10_000, ip_refill_per_s=10_000), clock=clock)
    assert limiter.reserve("alice", 18) == 0.0
    # 2 requests' credits are left: 3 must wait for one more (45 ms), and take nothing meanwhile.
    assert limiter.reserve("alice", 3) == pytest.approx(0.045)
    assert limiter.reserve("alice", 2) == 0.0
    assert limiter.reserve("alice") > 0


class Recording:
    """An inner limiter that grants while ``waits`` is empty and records what was asked."""

    def __init__(self, waits: list[float] | None = None) -> None:
        self.calls: list[tuple[str | None, int]] = []
        self.waits = waits or []

    def reserve(self, account: str | None, count: int = 1) -> float:
        self.calls.append((account, count))
        return self.waits.pop(0) if self.waits else 0.0


def test_prepaid_requests_cost_one_reservation_and_later_ones_pay_as_usual() -> None:
    inner = Recording()
    limiter = PrepaidLimiter(inner, 3)
    assert [limiter.reserve("alice") for _ in range(4)] == [0.0] * 4
    assert inner.calls == [("alice", 3), ("alice", 1)]
    assert limiter.reserve("bob") == 0.0
    assert inner.calls[-1] == ("bob", 1)


def test_when_the_budget_is_short_each_request_pays_on_its_own() -> None:
    # The prepayment would have to wait: it is dropped, not retried, so single-request callers
    # cannot starve it.
    inner = Recording(waits=[0.2, 0.02])
    limiter = PrepaidLimiter(inner, 3)
    assert limiter.reserve("alice") == 0.02
    assert limiter.reserve("alice") == 0.0
    assert limiter.reserve("alice") == 0.0
    assert inner.calls == [("alice", 3), ("alice", 1), ("alice", 1), ("alice", 1)]


def test_the_counter_counts_every_prepaid_request_as_spent_budget() -> None:
    spent = CountingLimiter(Recording())
    sent = CountingLimiter(PrepaidLimiter(spent, 3))
    for _ in range(2):
        acquire(sent, "alice")
    assert (spent.granted, sent.granted) == (3, 2)


def test_acquire_sleeps_until_granted_and_gives_up_past_the_cap() -> None:
    clock = FakeClock()
    limiter = LocalRateLimiter(Limits(ip_capacity=1, ip_refill_per_s=1), clock=clock)

    def sleep(seconds: float) -> None:
        clock.now += seconds

    assert acquire(limiter, None, sleep=sleep) == 0.0
    assert acquire(limiter, None, sleep=sleep) == pytest.approx(1.0)
    with pytest.raises(BudgetExhausted):
        acquire(limiter, None, sleep=sleep, max_wait=0.5)


def test_backoff_grows_exponentially_within_its_cap() -> None:
    assert backoff_delay(1, jitter=1.0) == 0.25
    assert backoff_delay(3, jitter=1.0) == 1.0
    assert backoff_delay(20, jitter=1.0) == 8.0
    assert backoff_delay(3, jitter=0.0) == 0.5


@pytest.fixture
def redis_client() -> redis.Redis:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.fail("REDIS_URL is not set; run the suite through `make test`")
    return redis.Redis.from_url(url)


def test_the_redis_limiter_shares_one_budget_between_processes(redis_client: redis.Redis) -> None:
    prefix = f"test:rl:{uuid.uuid4().hex}"
    limits = Limits(ip_capacity=10_000, ip_refill_per_s=10_000)
    # Two limiter objects stand for two worker processes: they share the Redis buckets.
    first = RedisRateLimiter(redis_client, limits=limits, prefix=prefix)
    second = RedisRateLimiter(redis_client, limits=limits, prefix=prefix)
    grants = [(first if i % 2 else second).reserve("alice") for i in range(21)]
    assert grants[:20] == [0.0] * 20
    assert 0 < grants[20] <= 0.05
    assert first.reserve("bob") == 0.0
    redis_client.delete(*redis_client.keys(f"{prefix}:*"))


def test_the_redis_limiter_takes_a_reservation_of_several_requests_at_once(
    redis_client: redis.Redis,
) -> None:
    prefix = f"test:rl:{uuid.uuid4().hex}"
    # The IP bucket barely refills, so what is left is exact.
    limiter = RedisRateLimiter(redis_client, limits=Limits(ip_refill_per_s=0.01), prefix=prefix)
    assert limiter.reserve("alice", 3) == 0.0
    # 47 of the IP's 50 are left: a reservation of 48 waits and takes nothing.
    assert limiter.reserve("bob", 48) > 0
    assert limiter.reserve("bob", 20) == 0.0
    redis_client.delete(*redis_client.keys(f"{prefix}:*"))


def test_the_redis_limiter_enforces_the_ip_budget(redis_client: redis.Redis) -> None:
    prefix = f"test:rl:{uuid.uuid4().hex}"
    limiter = RedisRateLimiter(redis_client, prefix=prefix, ip_key="egress-1")
    granted = sum(limiter.reserve(None) == 0.0 for _ in range(55))
    # Refill during the loop may grant one or two more than the 50 burst.
    assert 50 <= granted <= 52
    redis_client.delete(*redis_client.keys(f"{prefix}:*"))

"""PerpEx's request budget, on StandX's limiter: the same token buckets and the same Redis Lua
script (``exchange_common.ratelimit``), configured for PerpEx's figures, so every worker spends one
shared budget per API key through Redis.

- Per key: 120 requests per minute (the reference), a bucket of 120 refilled at 2 per second.
  The bucket is named by the key's fingerprint (``ApiKey.fingerprint``), never by the key.
- Per egress IP: 1,200 per minute. PerpEx documents no IP limit; this is Hyperliquid's REST
  figure, a guard that a many-key deployment stays under.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from exchange_common.ratelimit import (
    Limits,
    LocalRateLimiter,
    NoRateLimit,
    RateLimiter,
    RedisRateLimiter,
)
from perpex.errors import RateLimitedError

KEY_PER_MINUTE = 120
LIMITS = Limits(
    account_capacity=KEY_PER_MINUTE,
    account_refill_per_s=KEY_PER_MINUTE / 60,
    account_cost=1,
    ip_capacity=1200,
    ip_refill_per_s=20,
    ip_cost=1,
)
REDIS_PREFIX = "perpex:rl"

__all__ = [
    "LIMITS",
    "NoRateLimit",
    "RateLimiter",
    "acquire",
    "local_limiter",
    "redis_limiter",
]


def local_limiter() -> LocalRateLimiter:
    """The budget for one process (the CLI, tests)."""
    return LocalRateLimiter(LIMITS)


def redis_limiter(client: Any, *, ip_key: str = "default") -> RedisRateLimiter:
    """The budget shared by every process through ``client`` (a ``redis.Redis``)."""
    return RedisRateLimiter(client, limits=LIMITS, ip_key=ip_key, prefix=REDIS_PREFIX)


def acquire(
    limiter: RateLimiter,
    key: str | None,
    *,
    max_wait: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Block until the budget grants one request for ``key``; returns the time waited."""
    waited = 0.0
    while (wait := limiter.reserve(key)) > 0:
        if waited + wait > max_wait:
            raise RateLimitedError(
                "the client-side budget of 120 requests a minute is spent",
                retry_after=wait,
                endpoint="(local)",
            )
        sleep(wait)
        waited += wait
    return waited

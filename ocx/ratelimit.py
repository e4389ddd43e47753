"""The order-path budget: OCX allows 120 order-path requests a minute per user, across the
session and every key (ocx.gitbook.io ``reference/rate-limits``); reads, previews and streams
are not limited.

The same token buckets, Redis script and :func:`acquire` as StandX's client
(:mod:`exchange_common.ratelimit`), with OCX's numbers: a bucket of :data:`BURST` refilled at
:data:`PER_SECOND`, so that no rolling minute ever carries more than ``BURST + 60 × PER_SECOND``
= 120 requests (a bucket of 120 refilled at 2/s could send 238 in the first minute). The
per-user key is OCX's user id. The IP bucket is set wide open: OCX counts per user.
"""

from __future__ import annotations

from typing import Any

from exchange_common.ratelimit import (
    Limits,
    LocalRateLimiter,
    NoRateLimit,
    RateLimiter,
    RedisRateLimiter,
    acquire,
    backoff_delay,
)

PER_MINUTE = 120
BURST = 30
PER_SECOND = (PER_MINUTE - BURST) / 60
ORDER_PATH = Limits(
    account_capacity=BURST,
    account_refill_per_s=PER_SECOND,
    account_cost=1,
    ip_capacity=10_000,
    ip_refill_per_s=10_000,
    ip_cost=1,
)


def order_path_limiter() -> LocalRateLimiter:
    """For one process (the CLI, tests)."""
    return LocalRateLimiter(ORDER_PATH)


def shared_order_path_limiter(redis_client: Any) -> RedisRateLimiter:
    """One budget per OCX user for every worker process, kept in Redis under ``ocx:rl:*``."""
    return RedisRateLimiter(redis_client, limits=ORDER_PATH, prefix="ocx:rl")


__all__ = [
    "ORDER_PATH",
    "NoRateLimit",
    "RateLimiter",
    "acquire",
    "backoff_delay",
    "order_path_limiter",
    "shared_order_path_limiter",
]

"""Each venue's request budget, shared by every process through one Redis.

Django-free: the Django side hands over a Redis client factory once (``portfolio.apps``). Until
then (the CLIs, plain unit tests) :func:`shared` answers None and each client keeps its own
per-process budget. A venue that knows how its client shares a budget says so
(:class:`venues.base.SharedBudget`); any other gets token buckets built from its
:class:`venues.base.RateBudget`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from exchange_common.ratelimit import Limits, RateLimiter, RedisRateLimiter
from venues.base import RateBudget, SharedBudget, VenueAdapter

SHARES = ("all", "sync")
_factory: Callable[[], Any] | None = None
_cache: dict[tuple[str, str], RateLimiter] = {}
_lock = threading.Lock()


def configure(factory: Callable[[], Any] | None) -> None:
    """Share budgets through the Redis ``factory()`` returns (None: stop sharing)."""
    global _factory
    with _lock:
        _factory = factory
        _cache.clear()


def configured() -> bool:
    return _factory is not None


def limits_of(budget: RateBudget) -> Limits:
    """Token buckets in requests: the "ip" bucket, and the first per-credential one."""
    ip = next((b for b in budget.buckets if b.scope == "ip"), None)
    own = next((b for b in budget.buckets if b.scope != "ip"), None)
    unlimited = 1e9
    return Limits(
        account_capacity=own.capacity if own else unlimited,
        account_refill_per_s=own.per_second if own else unlimited,
        account_cost=1,
        ip_capacity=ip.capacity if ip else unlimited,
        ip_refill_per_s=ip.per_second if ip else unlimited,
        ip_cost=1,
    )


def shared(adapter: VenueAdapter, share: str = "all") -> RateLimiter | None:
    """The process's shared limiter of ``adapter``'s venue for ``share`` (see
    :class:`venues.base.SharedBudget`); None when no Redis was configured."""
    if share not in SHARES:
        raise ValueError(f"share must be one of {SHARES}, not {share!r}")
    with _lock:
        if _factory is None:
            return None
        key = (adapter.key, share)
        found = _cache.get(key)
        if found is None:
            client = _factory()
            if isinstance(adapter, SharedBudget):
                found = adapter.shared_limiter(client, share=share)
            else:
                found = RedisRateLimiter(
                    client, limits=limits_of(adapter.rate_budget), prefix=f"{adapter.key}:rl"
                )
            _cache[key] = found
        return found

"""Client-side rate limiting: two token buckets a request must both pay, per IP and per account.

:class:`Limits` defaults to StandX's published figures: per account (address) a credit bucket of
900 credits refilled at 1,000 credits/s, 45 credits per request (a burst of 20, ~22 requests/s
sustained); per IP 50 requests/s. Other clients pass their own. A request waits until both
buckets can pay. :class:`LocalRateLimiter` serves one process; :class:`RedisRateLimiter`
shares the same budget between every worker process through one atomic Lua script.
:class:`PrepaidLimiter` pays for several requests known to be coming in one reservation (one
Redis round trip instead of one per request).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class BudgetExhausted(Exception):
    """The local budget would make a request wait longer than the caller allows."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"client-side rate budget exhausted; retry in {retry_after:.1f} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limits:
    account_capacity: float = 900
    account_refill_per_s: float = 1000
    account_cost: float = 45
    ip_capacity: float = 50
    ip_refill_per_s: float = 50
    ip_cost: float = 1


class RateLimiter(Protocol):
    def reserve(self, account: str | None, count: int = 1) -> float:
        """Take ``count`` requests' credits now and return 0, or take nothing and return the wait
        (s) until they can all be paid."""
        ...


class NoRateLimit:
    """For tests that exercise the server's own 429s."""

    def reserve(self, account: str | None, count: int = 1) -> float:
        return 0.0


class CountingLimiter:
    """Delegates to another limiter and counts the requests it let through, and in how many
    reservations (round trips to a shared limiter)."""

    def __init__(self, inner: RateLimiter) -> None:
        self.inner = inner
        self.granted = 0
        self.reservations = 0

    def reserve(self, account: str | None, count: int = 1) -> float:
        wait = self.inner.reserve(account, count)
        if wait <= 0:
            self.granted += count
            self.reservations += 1
        return wait


class PrepaidLimiter:
    """Pays for the next ``count`` requests at the first one, in a single reservation.

    For a caller that knows how many requests it is about to make (a sync's fixed reads): the
    budget spent is the same, the round trips to a shared limiter are one instead of ``count``.
    Requests beyond the prepaid ones, or for another account, pay as usual. Prepay only requests
    that are certain: credits paid for and not used are not given back.

    When the budget is short, the prepayment is dropped and each request pays on its own: a
    reservation of three would wait for three credits to pile up while every single-request
    caller takes them one at a time, starving exactly the syncs that prepay.
    """

    def __init__(self, inner: RateLimiter, count: int) -> None:
        self.inner = inner
        self._count = count
        self._account: str | None = None
        self._left = 0

    def reserve(self, account: str | None, count: int = 1) -> float:
        if self._count:
            prepay, self._count = max(self._count, count), 0
            if self.inner.reserve(account, prepay) <= 0:
                self._account, self._left = account, prepay - count
                return 0.0
        if account == self._account and self._left >= count:
            self._left -= count
            return 0.0
        return self.inner.reserve(account, count)


def acquire(
    limiter: RateLimiter,
    account: str | None,
    *,
    max_wait: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Block until ``limiter`` grants a request; returns the time waited (gives up at max_wait)."""
    waited = 0.0
    while True:
        wait = limiter.reserve(account)
        if wait <= 0:
            return waited
        if waited + wait > max_wait:
            raise BudgetExhausted(wait)
        sleep(wait)
        waited += wait


class _Bucket:
    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity, self.rate, self.tokens, self.stamp = capacity, rate, capacity, now

    def level(self, now: float) -> float:
        return min(self.capacity, self.tokens + (now - self.stamp) * self.rate)


class LocalRateLimiter:
    def __init__(
        self, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or Limits()
        self._clock = clock
        self._lock = threading.Lock()
        self._ip: _Bucket | None = None
        self._accounts: dict[str, _Bucket] = {}

    def reserve(self, account: str | None, count: int = 1) -> float:
        lim = self.limits
        with self._lock:
            now = self._clock()
            if self._ip is None:
                self._ip = _Bucket(lim.ip_capacity, lim.ip_refill_per_s, now)
            pairs = [(self._ip, lim.ip_cost * count)]
            if account:
                bucket = self._accounts.get(account)
                if bucket is None:
                    bucket = self._accounts[account] = _Bucket(
                        lim.account_capacity, lim.account_refill_per_s, now
                    )
                pairs.append((bucket, lim.account_cost * count))
            # A hair of tolerance: float refill arithmetic must not leave a 1e-14 s wait.
            levels = [(b, b.level(now) + 1e-9, cost) for b, cost in pairs]
            wait = max(((cost - lvl) / b.rate for b, lvl, cost in levels if lvl < cost), default=0)
            if wait > 0:
                return wait
            for b, lvl, cost in levels:
                b.tokens, b.stamp = lvl - cost, now
            return 0.0


_LUA = """
pcall(redis.replicate_commands)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
local levels = {}
for i = 1, #KEYS do
  local cap = tonumber(ARGV[(i - 1) * 3 + 1])
  local rate = tonumber(ARGV[(i - 1) * 3 + 2])
  local cost = tonumber(ARGV[(i - 1) * 3 + 3])
  local v = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens = tonumber(v[1]) or cap
  local ts = tonumber(v[2]) or now
  tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
  levels[i] = tokens
  if tokens < cost then
    local w = (cost - tokens) / rate
    if w > wait then wait = w end
  end
end
if wait > 0 then return math.ceil(wait) end
for i = 1, #KEYS do
  local cost = tonumber(ARGV[(i - 1) * 3 + 3])
  redis.call('HSET', KEYS[i], 'tokens', tostring(levels[i] - cost), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[i], 60000)
end
return 0
"""


class RedisRateLimiter:
    """The same buckets kept in Redis, so every process spends one shared budget.

    ``client`` is a ``redis.Redis``; ``ip_key`` names this egress IP (all processes behind one
    address must use the same name). Times come from the Redis server's clock.
    """

    def __init__(
        self,
        client: Any,
        *,
        limits: Limits | None = None,
        ip_key: str = "default",
        prefix: str = "standx:rl",
    ) -> None:
        self.limits = limits or Limits()
        self._client = client
        self._script = client.register_script(_LUA)
        self._ip_key = f"{prefix}:ip:{ip_key}"
        self._prefix = prefix

    def reserve(self, account: str | None, count: int = 1) -> float:
        lim = self.limits
        keys = [self._ip_key]
        # Lua works in ms: rates are per millisecond.
        args: list[float] = [lim.ip_capacity, lim.ip_refill_per_s / 1000, lim.ip_cost * count]
        if account:
            keys.append(f"{self._prefix}:acct:{account}")
            args += [
                lim.account_capacity,
                lim.account_refill_per_s / 1000,
                lim.account_cost * count,
            ]
        wait_ms = int(self._script(keys=keys, args=args))
        return wait_ms / 1000 if wait_ms > 0 else 0.0


def backoff_delay(
    attempt: int, *, base: float = 0.25, cap: float = 8.0, jitter: float | None = None
) -> float:
    """Exponential backoff with equal jitter: attempt n waits c/2..c, c = min(cap, base*2^(n-1))."""
    ceiling = min(cap, base * math.pow(2, attempt - 1))
    fraction = random.random() if jitter is None else jitter  # noqa: S311 - not cryptographic
    return ceiling * (0.5 + fraction / 2)


class ChainedLimiter:
    """Every limiter must grant the request, in order: e.g. a sync's own share of a key's budget
    first, then the key's whole budget that trading spends too.

    A later limiter that says "wait" leaves the earlier ones paid: the waiting caller then pays
    twice for one request, which only slows it down (the safe side of a budget).
    """

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def reserve(self, account: str | None, count: int = 1) -> float:
        for limiter in self.limiters:
            wait = limiter.reserve(account, count)
            if wait > 0:
                return wait
        return 0.0

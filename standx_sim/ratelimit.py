"""Rate limits of protocol section 4.3, switchable for benchmarks.

Per address: a credit bucket (capacity 900, refill 1000 credits/s, 45 credits per request, so
a burst of 20 requests and about 22 requests/s sustained). Per client IP: 50 requests/s (a
bucket of 50 refilled at 50/s). Going over either answers 429 with a `Retry-After` header
(whole seconds, at least 1). `/sim/...` control calls and `/api/health` are never limited.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from standx_sim.errors import ApiError


@dataclass
class Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    enabled: bool = True
    address_capacity: float = 900.0
    address_refill: float = 1000.0
    request_cost: float = 45.0
    ip_rate: float = 50.0
    _addresses: dict[str, Bucket] = field(default_factory=dict)
    _ips: dict[str, Bucket] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "address_capacity": self.address_capacity,
            "address_refill": self.address_refill,
            "request_cost": self.request_cost,
            "ip_rate": self.ip_rate,
        }

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        for name in ("address_capacity", "address_refill", "request_cost", "ip_rate"):
            if name in body:
                value = float(body[name])
                if value <= 0:
                    raise ApiError(400, f"{name} must be positive")
                setattr(self, name, value)
        if "enabled" in body:
            self.enabled = bool(body["enabled"])
        self._addresses.clear()
        self._ips.clear()
        return self.settings()

    @staticmethod
    def _take(
        buckets: dict[str, Bucket], key: str, capacity: float, refill: float, cost: float
    ) -> float:
        """Take `cost` credits; return 0 when allowed, else the seconds until it would be."""
        now = time.monotonic()
        bucket = buckets.get(key)
        if bucket is None:
            bucket = Bucket(capacity, now)
            buckets[key] = bucket
        else:
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * refill)
            bucket.stamp = now
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return 0.0
        return (cost - bucket.tokens) / refill

    def check_ip(self, ip: str) -> None:
        if not self.enabled:
            return
        wait = self._take(self._ips, ip, self.ip_rate, self.ip_rate, 1.0)
        if wait:
            raise ApiError(429, "too many requests from this IP", _retry(wait))

    def check_address(self, user: str) -> None:
        if not self.enabled:
            return
        wait = self._take(
            self._addresses, user, self.address_capacity, self.address_refill, self.request_cost
        )
        if wait:
            raise ApiError(429, "too many requests for this address", _retry(wait))


def _retry(wait: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait)))}

"""Rate limits: 120 REST requests per minute per API key (the reference's figure).

A token bucket per key: capacity ``requests_per_minute``, refilled continuously. Requests
without a key (public routes) count per client IP at 1,200 per minute (Hyperliquid's per-IP
figure; PerpEx documents none). Going over answers 429 ``RATE_LIMITED`` with ``Retry-After`` in
whole seconds (at least 1). A batch is one request. ``/sim/`` is never limited.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from perpex_sim.errors import ApiError

ANONYMOUS_PER_MINUTE = 1200


@dataclass
class RateLimits:
    enabled: bool = True
    per_minute: int = 120
    refused: int = 0  # 429s answered since the start (GET /sim/state: a bench reads it)
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # tokens, stamp

    def reset(self) -> None:
        self._buckets.clear()

    def charge(self, key: str, per_minute: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        rate = per_minute / 60
        tokens, stamp = self._buckets.get(key, (float(per_minute), now))
        tokens = min(float(per_minute), tokens + (now - stamp) * rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return
        self._buckets[key] = (tokens, now)
        self.refused += 1
        wait = (1 - tokens) / rate
        raise ApiError(
            429,
            "RATE_LIMITED",
            f"more than {per_minute} requests per minute",
            {"Retry-After": str(max(1, math.ceil(wait)))},
        )

    def charge_key(self, kid: str) -> None:
        self.charge(f"key:{kid}", self.per_minute)

    def charge_ip(self, ip: str) -> None:
        self.charge(f"ip:{ip}", ANONYMOUS_PER_MINUTE)

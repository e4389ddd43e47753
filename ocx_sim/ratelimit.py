"""The order-path limit: 120 requests per rolling minute per user, across every credential
(session and keys). Over it: 429 ``ORDER_RATE_LIMIT`` with ``retryAfterMs`` (the time until the
oldest request in the window leaves it) and ``Retry-After`` in seconds. Reads, previews and
streams are not limited (ocx.gitbook.io ``reference/rate-limits``)."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from ocx_sim.errors import ApiError, bad_request

WINDOW_S = 60.0


@dataclass
class OrderPathLimiter:
    enabled: bool = True
    per_minute: int = 120

    def settings(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "per_minute": self.per_minute}

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        if "per_minute" in body:
            value = body["per_minute"]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad_request("per_minute must be a positive integer")
            self.per_minute = value
        if "enabled" in body:
            self.enabled = bool(body["enabled"])
        return self.settings()

    def check(self, window: deque[float], now: float | None = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic() if now is None else now
        while window and window[0] <= now - WINDOW_S:
            window.popleft()
        if len(window) >= self.per_minute:
            wait_ms = max(1, math.ceil((window[0] + WINDOW_S - now) * 1000))
            raise ApiError(
                429, "ORDER_RATE_LIMIT", "Order rate limit exceeded", retry_after_ms=wait_ms
            )
        window.append(now)

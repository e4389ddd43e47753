"""Injected faults for the REST routes and the WebSocket.

``POST /sim/faults`` (every field optional; one rule per endpoint, a new one replaces it):

    {"endpoint": "*",        # "*" or a route name: markets, orderbook, account, orders,
                             # orders/batch, cancel, open-orders, trades; "ws" for the socket
     "error_rate": 0.2,      # answer `status` before the request is handled
     "after_rate": 0,        # handle the request, then answer `status` anyway (lost answer)
     "status": 500,          # 429 answers carry Retry-After: `retry_after`
     "retry_after": 1,
     "latency_ms": 0,        # added before every matching request
     "malformed_rate": 0,    # a 200 whose body is cut short (not JSON)
     "ws_refuse_rate": 0,    # refuse new WebSocket handshakes (endpoint "ws" or "*")
     "duration_s": null,     # the rule removes itself after this long
     "drop_ws": false}       # one-shot: close every open socket now (code 1011)

A rule for the endpoint wins over "*". ``DELETE /sim/faults`` clears all rules.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from typing import Any

from perpex_sim.errors import invalid


@dataclass
class Rule:
    endpoint: str = "*"
    error_rate: float = 0.0
    after_rate: float = 0.0
    status: int = 500
    retry_after: int = 1
    latency_ms: int = 0
    malformed_rate: float = 0.0
    ws_refuse_rate: float = 0.0
    duration_s: float | None = None
    until: float | None = None

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        del data["until"]
        return data


def _probability(body: dict[str, Any], name: str) -> float:
    value = body.get(name, 0) or 0
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise invalid(f"{name} must be a number from 0 to 1")
    return float(value)


def _whole(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(f"{name} must be a whole number from {low} to {high}")
    return value


class Faults:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"perpex-faults-{seed}")  # noqa: S311 - seeded simulation
        self.rules: dict[str, Rule] = {}

    def add(self, body: dict[str, Any]) -> Rule:
        duration = body.get("duration_s")
        if duration is not None and (
            isinstance(duration, bool) or not isinstance(duration, int | float)
        ):
            raise invalid("duration_s must be a number of seconds")
        rule = Rule(
            endpoint=str(body.get("endpoint") or "*"),
            error_rate=_probability(body, "error_rate"),
            after_rate=_probability(body, "after_rate"),
            status=_whole(body, "status", 500, 400, 599),
            retry_after=_whole(body, "retry_after", 1, 0, 3600),
            latency_ms=_whole(body, "latency_ms", 0, 0, 60_000),
            malformed_rate=_probability(body, "malformed_rate"),
            ws_refuse_rate=_probability(body, "ws_refuse_rate"),
            duration_s=None if duration is None else float(duration),
            until=None if duration is None else time.monotonic() + float(duration),
        )
        self.rules[rule.endpoint] = rule
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def rule(self, endpoint: str) -> Rule | None:
        for name in (endpoint, "*"):
            rule = self.rules.get(name)
            if rule is not None and rule.until is not None and time.monotonic() >= rule.until:
                del self.rules[name]
                rule = None
            if rule is not None:
                return rule
        return None

    def hit(self, probability: float) -> bool:
        return probability > 0 and self.rng.random() < probability

    def listing(self) -> list[dict[str, Any]]:
        for name in list(self.rules):
            self.rule(name)
        return [r.public() for r in self.rules.values()]

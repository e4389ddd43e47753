"""Fault injection for the API (never for ``/sim/...``).

``POST /sim/faults`` body, every field optional; one rule per endpoint, a new rule for the same
endpoint replaces the old one; a specific endpoint wins over ``"*"``::

    {"endpoint": "*",           # "*" or a path without its leading slash and ids:
                                # "perps/orders", "perps/orders/cancel", "wallet/transfer" ...
     "error_rate": 0.1,         # answer `status` with {"error": "INJECTED_FAULT"} before handling
     "status": 503,
     "lost_reply_rate": 0,      # handle the request, then answer 503 anyway (the reply is lost)
     "latency_ms": 0,           # delay before handling
     "malformed_rate": 0,       # a 200 whose body is cut short (invalid JSON), after handling
     "sse_gap": false,          # one-shot: the next delta on every open stream skips a seq
     "drop_sse": false}         # one-shot: close every open stream now

``DELETE /sim/faults`` clears every rule; ``GET /sim/faults`` lists them.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from ocx_sim.errors import bad_request


@dataclass
class FaultRule:
    endpoint: str = "*"
    error_rate: float = 0.0
    status: int = 503
    lost_reply_rate: float = 0.0
    latency_ms: int = 0
    malformed_rate: float = 0.0


def _rate(body: dict[str, Any], name: str) -> float:
    try:
        value = float(body.get(name, 0) or 0)
    except (TypeError, ValueError):
        raise bad_request(f"{name} must be a number") from None
    if not 0 <= value <= 1:
        raise bad_request(f"{name} must be between 0 and 1")
    return value


class Faults:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"faults-{seed}")  # noqa: S311 - simulation, not security
        self.rules: dict[str, FaultRule] = {}

    def set(self, body: dict[str, Any]) -> FaultRule:
        try:
            status = int(body.get("status", 503))
            latency = max(0, int(body.get("latency_ms", 0) or 0))
        except (TypeError, ValueError):
            raise bad_request("status and latency_ms must be integers") from None
        if not 400 <= status <= 599:
            raise bad_request("status must be an HTTP error status")
        rule = FaultRule(
            endpoint=str(body.get("endpoint") or "*"),
            error_rate=_rate(body, "error_rate"),
            status=status,
            lost_reply_rate=_rate(body, "lost_reply_rate"),
            latency_ms=latency,
            malformed_rate=_rate(body, "malformed_rate"),
        )
        self.rules[rule.endpoint] = rule
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def rule_for(self, name: str) -> FaultRule | None:
        return self.rules.get(name) or self.rules.get("*")

    def roll(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    def active(self) -> list[dict[str, Any]]:
        return [asdict(rule) for rule in self.rules.values()]

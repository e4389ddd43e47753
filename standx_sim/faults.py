"""Fault injection for `/api/...`, `/v1/offchain/...` and the two WebSockets.

`POST /sim/faults` body (every field optional except as noted; one rule per endpoint, a new
rule for the same endpoint replaces the old one):

    {"endpoint": "*",          # "*" or an endpoint name: the path after /api/ ("query_balance",
                               # "new_order", "kline/history", "health"), after /v1/offchain/
                               # ("prepare-signin", "login", "certs"), or "ws-stream" / "ws-api"
     "error_rate": 0.1,        # probability of answering `status` with {"code","message"}
     "status": 500,            # status of injected errors (429 makes a 429 storm)
     "retry_after": 1,         # Retry-After header (seconds) on injected 429s; default 1
     "latency_ms": 0,          # delay added before every matching request is handled
     "malformed_rate": 0,      # probability of a 200 whose body is truncated, invalid JSON
     "duration_s": null,       # the rule removes itself after this many seconds
     "ws_refuse_rate": 0,      # probability of refusing a new WebSocket handshake (HTTP 403)
     "drop_ws": false,         # close every open WebSocket now (abruptly, code 1011); one-shot
     "stream_gap_rate": 0,     # "ws-stream" (or "*") only: probability that a user-stream frame
                               # (order, position, balance, trade) is lost on its way, its seq
                               # number spent, so the client sees a sequence gap
     "stream_delay_ms": 0}     # "ws-stream" (or "*") only: user-stream frames sent this late

A specific endpoint rule wins over "*". `DELETE /sim/faults` clears all rules
(`?endpoint=NAME` clears one). `GET /sim/faults` lists the active rules.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from typing import Any

from standx_sim.errors import ApiError


@dataclass
class FaultRule:
    endpoint: str = "*"
    error_rate: float = 0.0
    status: int = 500
    retry_after: int = 1
    latency_ms: int = 0
    malformed_rate: float = 0.0
    duration_s: float | None = None
    ws_refuse_rate: float = 0.0
    stream_gap_rate: float = 0.0
    stream_delay_ms: int = 0
    expires_at: float | None = None

    def json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("expires_at")
        return data


def _rate(body: dict[str, Any], name: str) -> float:
    value = float(body.get(name, 0) or 0)
    if not 0 <= value <= 1:
        raise ApiError(400, f"{name} must be between 0 and 1")
    return value


class Faults:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"faults-{seed}")  # noqa: S311 - simulation, not security
        self.rules: dict[str, FaultRule] = {}

    def set(self, body: Any) -> FaultRule:
        if not isinstance(body, dict):
            raise ApiError(400, "body must be a JSON object")
        try:
            status = int(body.get("status", 500))
            latency = int(body.get("latency_ms", 0) or 0)
            retry_after = int(body.get("retry_after", 1) or 1)
            stream_delay = int(body.get("stream_delay_ms", 0) or 0)
            duration = body.get("duration_s")
            duration_s = None if duration is None else float(duration)
        except (TypeError, ValueError):
            raise ApiError(
                400,
                "status, latency_ms, retry_after, stream_delay_ms and duration_s must be numbers",
            ) from None
        if not 100 <= status <= 599:
            raise ApiError(400, "status must be an HTTP status")
        rule = FaultRule(
            endpoint=str(body.get("endpoint") or "*"),
            error_rate=_rate(body, "error_rate"),
            status=status,
            retry_after=retry_after,
            latency_ms=max(0, latency),
            malformed_rate=_rate(body, "malformed_rate"),
            duration_s=duration_s,
            ws_refuse_rate=_rate(body, "ws_refuse_rate"),
            stream_gap_rate=_rate(body, "stream_gap_rate"),
            stream_delay_ms=max(0, stream_delay),
            expires_at=None if duration_s is None else time.monotonic() + duration_s,
        )
        self.rules[rule.endpoint] = rule
        return rule

    def clear(self, endpoint: str | None = None) -> None:
        if endpoint:
            self.rules.pop(endpoint, None)
        else:
            self.rules.clear()

    def rule_for(self, name: str) -> FaultRule | None:
        if not self.rules:
            return None
        rule = self.rules.get(name) or self.rules.get("*")
        if rule is not None and rule.expires_at is not None and time.monotonic() >= rule.expires_at:
            self.rules.pop(rule.endpoint, None)
            return self.rule_for(name)
        return rule

    def roll(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    def active(self) -> list[dict[str, Any]]:
        for name in list(self.rules):
            self.rule_for(name)
        return [rule.json() for rule in self.rules.values()]

"""Test-side helpers for the PerpEx simulator: its control API over plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

DEFAULT_CONFIG = {
    "rate_limit": True,
    "requests_per_minute": 120,
    "heartbeat_s": 30,
    "pong_timeout_s": 10,
    "max_subscriptions": 10,
    "warning_ratio": "0.8",
}


class SimControl:
    """The ``/sim/`` API of one running simulator."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.ws_url = "ws" + base_url.removeprefix("http") + "/ws"
        self.http = httpx.Client(base_url=base_url, timeout=10)

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.http.request(method, path, json=body, params=params or None)
        assert response.status_code == 200, response.text
        return response.json()

    def account(self, deposit: str | None = "10000", **extra: Any) -> dict[str, Any]:
        body = {"deposit": deposit, **extra} if deposit is not None else dict(extra)
        return self.call("POST", "/sim/accounts", body)

    def price(self, symbol: str, price: str) -> None:
        self.call("POST", "/sim/price", {"symbol": symbol, "mark_price": price})

    def mark(self, symbol: str) -> str:
        return str(self.call("GET", "/sim/state")["marks"][symbol])

    def config(self, **changes: Any) -> dict[str, Any]:
        return self.call("POST", "/sim/config", changes)

    def faults(self, **rule: Any) -> None:
        self.call("POST", "/sim/faults", rule)

    def ledger(self, account_id: str) -> dict[str, Any]:
        return self.call("GET", "/sim/ledger", account=account_id)

    def reset(self) -> None:
        self.call("DELETE", "/sim/faults")
        self.config(**DEFAULT_CONFIG)
        self.call("POST", "/sim/pause", {"paused": False})

    def api(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self.http.request(method, path, headers=headers, **kwargs)


@pytest.fixture
def sim(perpex_sim_url: str) -> Iterator[SimControl]:
    """The shared simulator, quiet (random walk paused), put back as it was after the test."""
    control = SimControl(perpex_sim_url)
    control.call("POST", "/sim/pause", {"paused": True})
    try:
        yield control
    finally:
        control.reset()
        control.http.close()

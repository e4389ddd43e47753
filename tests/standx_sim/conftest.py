"""Fixtures for the simulator's tests: a quiet simulator (walk paused, limits off) and accounts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.standx_sim.helpers import Api


@pytest.fixture
def sim(sim_url: str) -> Iterator[str]:
    """The shared simulator with its random walk paused and rate limits off, restored after."""
    with httpx.Client(base_url=sim_url, timeout=10) as http:
        before_paused = http.get("/sim/pause").json()["paused"]
        before_limits = http.get("/sim/limits").json()
        http.post("/sim/pause", json={"paused": True})
        http.post("/sim/limits", json={"enabled": False})
        try:
            yield sim_url
        finally:
            http.delete("/sim/faults")
            http.post("/sim/pause", json={"paused": before_paused})
            http.post("/sim/limits", json=before_limits)


@pytest.fixture
def make_api(sim: str) -> Iterator[Callable[..., Api]]:
    made: list[Api] = []

    def factory(chain: str = "bsc", deposit: str | None = "10000", **extra: Any) -> Api:
        body: dict[str, Any] = {"chain": chain, **extra}
        if deposit is not None:
            body["deposit"] = deposit
        creds = httpx.post(f"{sim}/sim/accounts", json=body, timeout=10).json()
        api = Api(sim, creds)
        made.append(api)
        return api

    yield factory
    for api in made:
        api.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture
def set_price(sim: str) -> Callable[[str, str], None]:
    def setter(symbol: str, price: str) -> None:
        response = httpx.post(
            f"{sim}/sim/price", json={"symbol": symbol, "mark_price": price}, timeout=10
        )
        assert response.status_code == 200, response.text

    return setter

"""Fixtures for the OCX client against a real ``python -m ocx_sim`` over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ocx.auth import ApiKey
from ocx.ratelimit import NoRateLimit
from ocx.rest import OCXClient


def sim_account(url: str, deposit: str = "10000", perps: str = "5000") -> dict[str, Any]:
    response = httpx.post(f"{url}/sim/accounts", json={"deposit": deposit, "perps": perps})
    response.raise_for_status()
    return dict(response.json())


def sim_control(url: str, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{url}{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def quiet_sim(ocx_sim_url: str) -> Iterator[str]:
    sim_control(ocx_sim_url, "POST", "/sim/pause", {"paused": True})
    try:
        yield ocx_sim_url
    finally:
        sim_control(ocx_sim_url, "DELETE", "/sim/faults")
        sim_control(ocx_sim_url, "POST", "/sim/limits", {"enabled": True, "per_minute": 120})
        sim_control(ocx_sim_url, "POST", "/sim/streams", {"heartbeat_s": 15})
        sim_control(ocx_sim_url, "POST", "/sim/pause", {"paused": False})


@pytest.fixture
def alice_wallet(quiet_sim: str) -> dict[str, Any]:
    return sim_account(quiet_sim)


@pytest.fixture
def alice(quiet_sim: str, alice_wallet: dict[str, Any]) -> OCXClient:
    """Alice signed in with her wallet (SIWE), holding a trade key too."""
    client = OCXClient(quiet_sim, limiter=NoRateLimit())
    client.sign_in_with_wallet_key(alice_wallet["wallet_private_key"])
    client.api_key = ApiKey(alice_wallet["api_key"], scope="trade", user_id=alice_wallet["user_id"])
    return client

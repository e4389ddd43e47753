"""Fixtures for the client's integration tests against a real `python -m standx_sim`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from exchange_common.ratelimit import NoRateLimit
from standx.rest import Credentials, Endpoints, StandXClient


def sim_account(sim_url: str, *, chain: str = "bsc", deposit: str = "10000") -> dict[str, Any]:
    """A funded simulated account via the control API: {"address", "token", "signing_key"}."""
    response = httpx.post(
        f"{sim_url}/sim/accounts", json={"chain": chain, "deposit": deposit}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def sim_control(sim_url: str, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{sim_url}{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json() if response.content else None


@pytest.fixture
def alice_account(sim_url: str) -> dict[str, Any]:
    return sim_account(sim_url)


@pytest.fixture
def alice(sim_url: str, alice_account: dict[str, Any]) -> Iterator[StandXClient]:
    creds = Credentials.from_strings(alice_account["token"], alice_account["signing_key"])
    # The simulator enforces StandX's limits itself; tests exercise those, not the client's.
    with StandXClient(
        creds, endpoints=Endpoints.for_simulator(sim_url), rate_limiter=NoRateLimit()
    ) as client:
        yield client


@pytest.fixture
def public(sim_url: str) -> Iterator[StandXClient]:
    with StandXClient(endpoints=Endpoints.for_simulator(sim_url)) as client:
        yield client


@pytest.fixture
def no_faults(sim_url: str) -> Iterator[None]:
    yield
    httpx.delete(f"{sim_url}/sim/faults", timeout=10)

"""Linking fixtures: funded simulator accounts and a user linked to one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from accounts import services
from accounts.models import StandXAccount, User
from standx.rest import Endpoints


def sim_credentials(sim_url: str, **body: Any) -> dict[str, Any]:
    payload = {"chain": "bsc", "deposit": "10000", **body}
    response = httpx.post(f"{sim_url}/sim/accounts", json=payload, timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.fixture
def sim_endpoints(sim_url: str) -> Endpoints:
    return Endpoints.for_simulator(sim_url)


@pytest.fixture
def alice_standx(sim_url: str) -> dict[str, Any]:
    return sim_credentials(sim_url)


@pytest.fixture
def alice_linked(
    alice: User, alice_standx: dict[str, Any], sim_endpoints: Endpoints
) -> StandXAccount:
    return services.account_link_with_token(
        owner=alice,
        label="Main",
        token=alice_standx["token"],
        signing_key=alice_standx["signing_key"],
        endpoints=sim_endpoints,
    )


@pytest.fixture(autouse=True)
def simulator_links_allowed(settings: Any) -> None:
    # These tests link accounts on the simulator's origin, as demo mode allows.
    settings.STANDX_ALLOW_CUSTOM_ENDPOINTS = True

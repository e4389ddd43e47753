"""Clients of the shared PerpEx simulator (over real HTTP and WebSocket)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from perpex.keys import ApiKey
from perpex.ratelimit import NoRateLimit
from perpex.rest import PerpExClient
from tests.perpex_sim.helpers import SimControl, sim

__all__ = ["alice", "client_for", "sim"]


@pytest.fixture
def client_for(sim: SimControl) -> Callable[..., PerpExClient]:
    def make(creds: dict[str, Any], **options: Any) -> PerpExClient:
        # The simulator enforces the venue's limit itself; these tests exercise that one.
        options.setdefault("rate_limiter", NoRateLimit())
        return PerpExClient(ApiKey(creds["api_key"]), api_url=sim.base_url, **options)

    return make


@pytest.fixture
def alice(sim: SimControl, client_for: Callable[..., PerpExClient]) -> PerpExClient:
    return client_for(sim.account())

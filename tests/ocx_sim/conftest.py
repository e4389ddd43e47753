"""Fixtures for the OCX simulator's tests: a quiet simulator (walk paused) and users."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.ocx_sim.helpers import Api, control, new_account


@pytest.fixture
def sim(ocx_sim_url: str) -> Iterator[str]:
    """The shared simulator with its random walk paused, faults and limits restored after."""
    control(ocx_sim_url, "POST", "/sim/pause", {"paused": True})
    try:
        yield ocx_sim_url
    finally:
        control(ocx_sim_url, "DELETE", "/sim/faults")
        control(ocx_sim_url, "POST", "/sim/limits", {"enabled": True, "per_minute": 120})
        control(ocx_sim_url, "POST", "/sim/pause", {"paused": False})


@pytest.fixture
def make_api(sim: str) -> Iterator[Callable[..., Api]]:
    made: list[Api] = []

    def factory(**body: Any) -> Api:
        api = Api(sim, new_account(sim, **body))
        made.append(api)
        return api

    yield factory
    for api in made:
        api.close()


@pytest.fixture
def alice(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture
def bob(make_api: Callable[..., Api]) -> Api:
    return make_api()

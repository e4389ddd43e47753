"""Fixtures of the portfolio tests that trade on the simulator."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import httpx
import pytest
from django.test import Client

from accounts.models import ExchangeAccount, User
from portfolio.models import MarketPrice
from tests.conftest import market_data_synced


@pytest.fixture
def alice_trader(alice_linked: ExchangeAccount, sim_url: str) -> ExchangeAccount:
    market_data_synced(sim_url)
    return alice_linked


def ledger(sim_url: str, account: ExchangeAccount) -> dict[str, Any]:
    response = httpx.get(f"{sim_url}/sim/ledger", params={"address": account.address}, timeout=10)
    return dict(response.json())


def mark(symbol: str) -> D:
    value = MarketPrice.objects.get(symbol=symbol).mark_price
    assert value is not None
    return value


def logged_in(user: User) -> Client:
    """A test client with ``user``'s session."""
    client = Client()
    client.force_login(user)
    return client

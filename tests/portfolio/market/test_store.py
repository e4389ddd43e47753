from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from accounts.models import ExchangeAccount
from exchange_common.ratelimit import NoRateLimit
from portfolio.market import store as market
from portfolio.models import FundingRate, MarketPrice, MarketSymbol, Position
from portfolio.sync import pipeline as sync
from tests.conftest import market_data_synced, wait_for
from tests.standx_access import client_for
from venues.base import Instrument, Kind

pytestmark = pytest.mark.django_db


def test_market_sync_stores_symbols_marks_and_funding_history(sim_url: str) -> None:
    httpx.post(f"{sim_url}/sim/funding", json={"symbol": "BTC-USD"}).raise_for_status()
    market_data_synced(sim_url)
    assert {"BTC-USD", "ETH-USD", "SOL-USD", "XAU-USD"} <= set(
        MarketSymbol.objects.values_list("symbol", flat=True)
    )
    btc = MarketSymbol.objects.get(symbol="BTC-USD")
    assert btc.min_order_qty > 0
    assert btc.max_leverage > 1
    price = MarketPrice.objects.get(symbol="BTC-USD")
    assert price.mark_price is not None
    assert price.source == "rest"
    assert FundingRate.objects.filter(symbol="BTC-USD").exists()
    # Running it again adds no duplicate funding rows.
    count = FundingRate.objects.count()
    market_data_synced(sim_url)
    assert FundingRate.objects.count() == count


def test_market_sync_stores_each_symbols_status(
    sim_url: str, symbol_status: Callable[[str, str], None]
) -> None:
    symbol_status("SOL-USD", "halt")
    market_data_synced(sim_url)
    statuses = dict(MarketSymbol.objects.values_list("symbol", "status"))
    assert statuses["SOL-USD"] == "halt"
    assert statuses["BTC-USD"] == "trading"
    assert not MarketSymbol.objects.get(symbol="SOL-USD").tradable
    # Listed again: the next sync opens it to orders again.
    symbol_status("SOL-USD", "trading")
    market_data_synced(sim_url)
    assert MarketSymbol.objects.get(symbol="SOL-USD").tradable


def test_a_new_mark_reprices_held_positions(alice_linked: ExchangeAccount) -> None:
    with client_for(alice_linked, rate_limiter=NoRateLimit()) as client:
        client.new_order(symbol="BTC-USD", side="sell", order_type="market", qty="0.01")
        wait_for(client.query_positions, timeout=10)
    sync.account_sync(alice_linked.pk, limiter=NoRateLimit())
    position = Position.objects.get(account=alice_linked)
    market.mark_store("standx", "BTC-USD", mark=position.entry_price - 1000, source="stream")
    position.refresh_from_db()
    assert position.mark_price == position.entry_price - 1000
    # Short 0.01: a 1,000 fall is a 10 gain.
    assert position.upnl == Decimal("10")
    assert market.held_symbols("standx") == {"BTC-USD"}


def test_market_sync_keeps_a_mark_for_every_listed_symbol_while_someone_holds_one(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    with client_for(alice_linked, rate_limiter=NoRateLimit()) as client:
        client.new_order(symbol="BTC-USD", side="buy", order_type="market", qty="0.01")
        wait_for(client.query_positions, timeout=10)
    sync.account_sync(alice_linked.pk, limiter=NoRateLimit())
    httpx.post(f"{sim_url}/sim/funding", json={}).raise_for_status()  # every symbol has a rate
    market_data_synced(sim_url)
    listed = set(MarketSymbol.objects.filter(enabled=True).values_list("symbol", flat=True))
    marked = MarketPrice.objects.filter(mark_price__isnull=False).values_list("symbol", flat=True)
    assert {"BTC-USD", "ETH-USD", "SOL-USD"} <= listed == set(marked)
    # Funding history, which rebuilds funding payments, is read for the held symbol only.
    assert set(FundingRate.objects.values_list("symbol", flat=True)) == {"BTC-USD"}


def test_a_dated_future_is_stored_with_its_kind_underlying_and_expiry() -> None:
    expiry = datetime(2026, 12, 25, 8, tzinfo=UTC)
    future = Instrument(
        symbol="BTC-USDC-2026-12-25",
        kind=Kind.FUTURE,
        base_asset="BTC",
        quote_asset="USDC",
        price_tick_decimals=1,
        qty_tick_decimals=4,
        quote_decimals=6,
        min_order_qty=Decimal("0.0001"),
        max_order_qty=Decimal(100),
        max_leverage=Decimal(20),
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0005"),
        price_cap_ratio=Decimal("0.1"),
        price_floor_ratio=Decimal("0.1"),
        enabled=True,
        status="trading",
        underlying="BTC",
        expiry=expiry,
    )
    market.symbols_store("ocx", [future])
    row = MarketSymbol.objects.get(venue="ocx", symbol="BTC-USDC-2026-12-25")
    assert (row.kind, row.underlying, row.expiry, row.contract_size) == (
        "future",
        "BTC",
        expiry,
        Decimal(1),
    )
    assert not MarketSymbol.objects.filter(venue="standx", symbol=row.symbol).exists()


def test_market_sync_reads_the_funding_of_a_symbol_closed_since_the_last_one(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    with client_for(alice_linked, rate_limiter=NoRateLimit()) as client:
        client.new_order(symbol="BTC-USD", side="buy", order_type="market", qty="0.01")
        client.new_order(symbol="SOL-USD", side="buy", order_type="market", qty="1")
        wait_for(lambda: len(client.query_positions()) == 2, timeout=10)
        httpx.post(f"{sim_url}/sim/funding", json={"symbol": "SOL-USD"}).raise_for_status()
        client.new_order(
            symbol="SOL-USD", side="sell", order_type="market", qty="1", reduce_only=True
        )
        wait_for(lambda: len(client.query_positions()) == 1, timeout=10)
    sync.account_sync(alice_linked.pk, limiter=NoRateLimit())
    assert set(Position.objects.values_list("symbol", flat=True)) == {"BTC-USD"}
    market_data_synced(sim_url)
    # Only BTC-USD is held now, but the SOL-USD position closed after the funding time owes it.
    assert FundingRate.objects.filter(symbol="SOL-USD").exists()

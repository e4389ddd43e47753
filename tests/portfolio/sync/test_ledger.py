"""After a random trading session in the simulator the database equals its ledger exactly."""

from __future__ import annotations

import contextlib
import random
from decimal import Decimal
from typing import Any

import httpx
import pytest

from accounts.models import ExchangeAccount
from exchange_common.ratelimit import NoRateLimit
from portfolio.models import FundingPayment, Order, Position, Trade
from portfolio.sync import pipeline as sync
from standx import errors
from standx.models import parse_time
from standx.rest import StandXClient
from tests.conftest import market_data_synced, wait_for
from tests.standx_access import client_for

pytestmark = pytest.mark.django_db

NO_LIMIT = NoRateLimit()
SIZES = {
    "BTC-USD": ["0.001", "0.002", "0.005"],
    "ETH-USD": ["0.01", "0.05"],
    "SOL-USD": ["0.5", "1", "2"],
}


def control(sim_url: str, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, sim_url + path, json=body, timeout=10)
    response.raise_for_status()
    return response.json() if response.content else None


def trading_session(client: StandXClient, sim_url: str, rng: random.Random) -> None:
    """Random market and limit orders, cancels, price moves and funding, then a liquidation."""
    for _ in range(14):
        action = rng.choice(["market", "market", "limit", "cancel", "move", "funding"])
        symbol = rng.choice(sorted(SIZES))
        if action == "market":
            # The exchange may refuse (e.g. too little margin left): then nothing happened.
            with contextlib.suppress(errors.BadRequestError):
                client.new_order(
                    symbol=symbol,
                    side=rng.choice(["buy", "sell"]),
                    order_type="market",
                    qty=rng.choice(SIZES[symbol]),
                )
        elif action == "limit":
            mark = client.query_symbol_price(symbol=symbol).mark_price
            assert mark is not None
            away = Decimal(rng.choice(["0.9", "0.95", "1.05", "1.1"]))
            side = "buy" if away < 1 else "sell"
            client.new_order(
                symbol=symbol,
                side=side,
                order_type="limit",
                qty=rng.choice(SIZES[symbol]),
                price=(mark * away).quantize(Decimal("0.01")),
            )
        elif action == "cancel":
            open_orders = client.query_open_orders().result
            if open_orders:
                client.cancel_order(order_id=rng.choice(open_orders).id)
        elif action == "move":
            mark = client.query_symbol_price(symbol=symbol).mark_price
            assert mark is not None
            moved = (mark * Decimal(rng.choice(["0.97", "0.99", "1.01", "1.03"]))).quantize(
                Decimal("0.01")
            )
            control(sim_url, "POST", "/sim/price", {"symbol": symbol, "mark_price": str(moved)})
        else:
            control(sim_url, "POST", "/sim/funding", {"symbol": symbol, "rate": "0.0001"})
    # A leveraged isolated XAU long, then a crash through its liquidation price.
    client.change_margin_mode(symbol="XAU-USD", margin_mode="isolated")
    client.change_leverage(symbol="XAU-USD", leverage=20)
    client.new_order(symbol="XAU-USD", side="buy", order_type="market", qty="1")
    position = wait_for(lambda: client.query_positions(symbol="XAU-USD"), timeout=10)[0]
    control(sim_url, "POST", "/sim/funding", {"symbol": "XAU-USD", "rate": "0.0002"})
    assert position.liq_price is not None
    crash = (position.liq_price * Decimal("0.98")).quantize(Decimal("0.01"))
    control(sim_url, "POST", "/sim/price", {"symbol": "XAU-USD", "mark_price": str(crash)})
    wait_for(lambda: not client.query_positions(symbol="XAU-USD"), timeout=10)


def sync_until_done(account: ExchangeAccount, sim_url: str) -> None:
    market_data_synced(sim_url)
    for _ in range(40):
        try:
            if sync.account_sync(account.pk, limiter=NO_LIMIT) == sync.Outcome.SYNCED:
                return
        except sync.TransientSyncError:
            pass
    raise AssertionError("the sync never succeeded")


def assert_equals_ledger(account: ExchangeAccount, sim_url: str, client: StandXClient) -> None:
    book = control(sim_url, "GET", f"/sim/ledger?address={account.address}")
    assert {
        t.exchange_id: (t.symbol, t.side, t.qty, t.price, t.fee_qty, t.pnl)
        for t in Trade.objects.filter(account=account)
    } == {
        str(t["id"]): (
            t["symbol"],
            t["side"],
            Decimal(t["qty"]),
            Decimal(t["price"]),
            Decimal(t["fee_qty"]),
            Decimal(t["pnl"]),
        )
        for t in book["trades"]
    }
    assert {
        o.exchange_id: (o.status, o.fill_qty, o.is_liquidation)
        for o in Order.objects.filter(account=account)
    } == {
        str(o["id"]): (
            "open" if o["status"] == "new" else o["status"],
            Decimal(o["fill_qty"]),
            bool(o.get("liq_id")),
        )
        for o in book["orders"]
    }
    assert Order.objects.filter(account=account, is_liquidation=True).exists()  # the liquidation
    assert {
        (f.symbol, f.funding_time, f.amount) for f in FundingPayment.objects.filter(account=account)
    } == {(f["symbol"], parse_time(f["transact_time"]), Decimal(f["qty"])) for f in book["funding"]}
    assert book["funding"]
    exchange_positions = {p.symbol: p.qty for p in client.query_positions()}
    assert {p.symbol: p.qty for p in Position.objects.filter(account=account)} == (
        exchange_positions
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_the_database_equals_the_ledger_after_a_random_session(
    alice_linked: ExchangeAccount, sim_url: str, seed: int
) -> None:
    with client_for(alice_linked, rate_limiter=NO_LIMIT) as client:
        trading_session(client, sim_url, random.Random(seed))
        # Synced part-way and again at the end, as the beat schedule would.
        sync_until_done(alice_linked, sim_url)
        client.new_order(symbol="BTC-USD", side="buy", order_type="market", qty="0.001")
        control(sim_url, "POST", "/sim/funding", {"symbol": "BTC-USD", "rate": "0.0001"})
        sync_until_done(alice_linked, sim_url)
        assert_equals_ledger(alice_linked, sim_url, client)


def test_the_same_holds_when_a_fifth_of_the_calls_fail(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    with client_for(alice_linked, rate_limiter=NO_LIMIT) as client:
        trading_session(client, sim_url, random.Random(3))
        faults = [
            {"endpoint": "*", "error_rate": 0.2, "status": 500},
            {"endpoint": "query_trades", "error_rate": 0.2, "status": 429, "retry_after": 0},
            {"endpoint": "query_orders", "malformed_rate": 0.2},
            {"endpoint": "query_balance", "error_rate": 0.2, "status": 503},
        ]
        try:
            for rule in faults:
                control(sim_url, "POST", "/sim/faults", rule)
            sync_until_done(alice_linked, sim_url)
        finally:
            control(sim_url, "DELETE", "/sim/faults")
        assert_equals_ledger(alice_linked, sim_url, client)

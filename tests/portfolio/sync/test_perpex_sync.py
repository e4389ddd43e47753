"""A PerpEx account through the venue-neutral sync: after random trading in the simulator the
database equals its ledger; a quiet account costs one request; the key's budget is shared."""

from __future__ import annotations

import contextlib
import random
import time
from decimal import Decimal
from typing import Any

import pytest
import redis
from django.conf import settings

from accounts.models import AccountStatus, ExchangeAccount, User
from exchange_common.ratelimit import NoRateLimit
from perpex import errors as px_errors
from perpex.keys import ApiKey
from perpex.rest import OrderRequest, PerpExClient
from portfolio.domain import performance
from portfolio.market import store as market
from portfolio.models import (
    BalanceSnapshot,
    CashFlow,
    FundingPayment,
    Order,
    Position,
    SyncState,
    Trade,
)
from portfolio.sync import pipeline as sync
from tests.conftest import perpex_credentials
from tests.perpex_sim.helpers import SimControl, sim
from venues import perpex as perpex_venue
from venues import registry

__all__ = ["sim"]
pytestmark = pytest.mark.django_db

NO_LIMIT = NoRateLimit()
SIZES = {"BTC-USD": ["0.001", "0.002"], "ETH-USD": ["0.01", "0.05"], "SOL-USD": ["0.5", "1"]}
TICKS = {"BTC-USD": Decimal(1), "ETH-USD": Decimal("0.1"), "SOL-USD": Decimal("0.01")}


def linked(owner: User, sim: SimControl, **body: Any) -> tuple[ExchangeAccount, dict[str, Any]]:
    from accounts import linking

    creds = perpex_credentials(sim.base_url, **body)
    endpoints = perpex_venue.endpoints_for_simulator(sim.base_url)
    account = linking.account_link_pasted(
        owner, "perpex", endpoints, {"api_key": creds["api_key"]}, "Perp"
    )
    return account, creds


def synced(account: ExchangeAccount) -> sync.Outcome:
    return sync.account_sync(account.pk, limiter=NO_LIMIT)


def force_full(account: ExchangeAccount) -> None:
    SyncState.objects.filter(account=account).update(last_full_sync_at=None)


def place(client: PerpExClient, **order: Any) -> None:
    with contextlib.suppress(px_errors.InsufficientMarginError, px_errors.BadRequestError):
        client.place_order(OrderRequest(**order))


ACTIONS = ("market", "market", "limit", "cancel", "move", "funding")


def trade_randomly(
    client: PerpExClient, sim: SimControl, rng: random.Random, actions: tuple[str, ...] = ACTIONS
) -> None:
    action = rng.choice(actions)
    symbol = rng.choice(sorted(SIZES))
    qty = Decimal(rng.choice(SIZES[symbol]))
    mark = Decimal(sim.mark(symbol))
    if action == "market":
        place(client, symbol=symbol, side=rng.choice(["buy", "sell"]), type="market", quantity=qty)
    elif action == "limit":
        away = Decimal(rng.choice(["0.98", "0.99", "1.01", "1.02"]))
        price = (mark * away).quantize(TICKS[symbol])
        side = "buy" if away < 1 else "sell"
        place(client, symbol=symbol, side=side, type="limit", quantity=qty, price=price)
    elif action == "cancel":
        open_orders = client.open_orders() or []
        if open_orders:
            client.cancel_order(rng.choice(open_orders).id)
    elif action == "move":
        moved = mark * Decimal(rng.choice(["0.985", "0.995", "1.005", "1.015"]))
        sim.price(symbol, str(moved.quantize(TICKS[symbol])))
    else:
        sim.call("POST", "/sim/funding", {"symbol": symbol, "rate": "0.0001"})


def liquidate_an_isolated_long(client: PerpExClient, sim: SimControl) -> None:
    """An isolated HYPE long at 10x (a market the random trading leaves alone), then a crash
    through its liquidation price."""
    sim.price("HYPE-USD", "40")
    place(
        client,
        symbol="HYPE-USD",
        side="buy",
        type="market",
        quantity=Decimal(20),
        leverage=10,
        margin_mode="isolated",
    )
    held = next(p for p in client.account().positions if p.symbol == "HYPE-USD")
    assert held.liquidation_price is not None
    sim.price(
        "HYPE-USD", str((held.liquidation_price * Decimal("0.99")).quantize(Decimal("0.001")))
    )
    assert not [p for p in client.account().positions if p.symbol == "HYPE-USD"]


def assert_matches_ledger(
    account: ExchangeAccount, sim: SimControl, creds: dict[str, Any]
) -> dict[str, Any]:
    """The stored fills, orders, cash and positions are the simulator's (nothing lost, nothing
    doubled); returns the ledger."""
    ledger = sim.ledger(creds["account_id"])
    fills = {
        f["id"]: (
            f["orderId"],
            f["symbol"],
            f["side"],
            Decimal(f["quantity"]),
            Decimal(f["price"]),
            Decimal(f["fee"]),
            Decimal(f["realizedPnl"]),
        )
        for f in ledger["fills"]
    }
    stored = {
        t.exchange_id: (t.order_exchange_id, t.symbol, t.side, t.qty, t.price, t.fee_qty, t.pnl)
        for t in Trade.objects.filter(account=account)
    }
    assert stored == fills
    assert Trade.objects.filter(account=account).count() == len(fills)  # none doubled

    def filled(o: dict[str, Any]) -> tuple[Any, ...]:
        avg = Decimal(o["averagePrice"]) if o["averagePrice"] else None
        return (o["status"], Decimal(o["filledQuantity"]), avg, bool(o["liquidation"]))

    orders = {o["id"]: filled(o) for o in ledger["orders"]}
    rows = {
        o.exchange_id: (o.status, o.fill_qty, o.fill_avg_price, o.is_liquidation)
        for o in Order.objects.filter(account=account)
    }
    assert rows.keys() == orders.keys()
    for order_id, row in rows.items():
        status, qty, avg, liquidation = orders[order_id]
        assert row[0] == status, order_id
        assert row[1] == qty, order_id
        assert row[3] == liquidation, order_id
        if avg is not None:
            assert abs(row[2] - avg) <= Decimal("0.000001"), order_id
    latest = BalanceSnapshot.objects.filter(account=account).latest("taken_at")
    assert latest.cash == Decimal(ledger["balance"])
    with PerpExClient(
        ApiKey(creds["api_key"]), api_url=sim.base_url, rate_limiter=NO_LIMIT
    ) as client:
        venue_positions = {p.symbol: p.size for p in client.account().positions}
    assert {p.symbol: p.qty for p in Position.objects.filter(account=account)} == venue_positions
    return ledger


def test_a_synced_perpex_account_equals_the_simulators_ledger(alice: User, sim: SimControl) -> None:
    sim.config(rate_limit=False)
    account, creds = linked(alice, sim)
    client = PerpExClient(ApiKey(creds["api_key"]), api_url=sim.base_url, rate_limiter=NO_LIMIT)
    rng = random.Random(20)
    # History before the first sync: the backfill reads it. (No cancels: an order placed and
    # cancelled between two reads without a fill is never seen, PerpEx having no order history.)
    for _ in range(4):
        trade_randomly(client, sim, rng, ("market", "limit", "move"))
    assert synced(account) == sync.Outcome.SYNCED
    for step in range(24):
        trade_randomly(client, sim, rng)
        if step % 6 == 5:
            force_full(account)
        assert synced(account) == sync.Outcome.SYNCED
    liquidate_an_isolated_long(client, sim)
    force_full(account)
    assert synced(account) == sync.Outcome.SYNCED

    ledger = assert_matches_ledger(account, sim, creds)
    assert len(ledger["fills"]) > 5
    assert any(o.is_liquidation for o in Order.objects.filter(account=account))
    positions = Position.objects.filter(account=account)
    assert all(p.liq_source == "reported" for p in positions)


def market_synced(sim_url: str) -> None:
    """PerpEx's market sync against the simulator: symbol rules, marks, the last funding."""
    endpoints = perpex_venue.endpoints_for_simulator(sim_url)
    with registry.adapter("perpex").public(endpoints, limiter=NO_LIMIT) as session:
        market.market_sync(session)


def test_perpex_funding_shows_as_funding_never_as_a_deposit_or_withdrawal(
    alice: User, sim: SimControl
) -> None:
    sim.config(rate_limit=False)
    account, creds = linked(alice, sim)
    assert synced(account) == sync.Outcome.SYNCED  # linked with 10,000 USDC and nothing held
    client = PerpExClient(ApiKey(creds["api_key"]), api_url=sim.base_url, rate_limiter=NO_LIMIT)
    place(client, symbol="SOL-USD", side="buy", type="market", quantity=Decimal("4.33"))
    place(
        client,
        symbol="ETH-USD",
        side="sell",
        type="market",
        quantity=Decimal("0.57"),
        leverage=5,
        margin_mode="isolated",
    )
    force_full(account)
    assert synced(account) == sync.Outcome.SYNCED

    # A settlement the account's full read sees before its rate arrives: for a moment the
    # balance fell without a fill; the market sync then books the payment and re-checks.
    sim.call("POST", "/sim/funding", {"symbol": "SOL-USD", "rate": "0.000375"})
    force_full(account)
    assert synced(account) == sync.Outcome.SYNCED
    market_synced(sim.base_url)
    # One whose rate is read first; then a position change, and a negative rate (shorts pay).
    sim.call("POST", "/sim/funding", {"symbol": "ETH-USD", "rate": "0.0002"})
    market_synced(sim.base_url)
    place(client, symbol="SOL-USD", side="sell", type="market", quantity=Decimal("1.5"))
    sim.call("POST", "/sim/funding", {"symbol": "SOL-USD", "rate": "-0.00011"})
    market_synced(sim.base_url)
    force_full(account)
    assert synced(account) == sync.Outcome.SYNCED

    ledger = sim.ledger(creds["account_id"])
    paid = sorted((f["symbol"], int(f["time"]), Decimal(f["payment"])) for f in ledger["funding"])
    assert len(paid) == 3
    stored = sorted(
        (p.symbol, int(p.funding_time.timestamp() * 1000), p.amount)
        for p in FundingPayment.objects.filter(account=account)
    )
    assert stored == paid
    # Nothing reads as a deposit or withdrawal, so returns are the trading's and funding's own.
    flows = CashFlow.objects.filter(account=account)
    assert [(f.kind, f.amount) for f in flows] == [(performance.LINK, Decimal(10000))]
    fills = Trade.objects.filter(account=account)
    earned = sum((t.pnl - t.fee_qty for t in fills), Decimal(0))
    funding = sum((amount for _, _, amount in paid), Decimal(0))
    latest = BalanceSnapshot.objects.filter(account=account).latest("taken_at")
    assert latest.cash == Decimal(ledger["balance"]) == 10000 + earned + funding


def test_a_quiet_flat_perpex_account_costs_one_request(alice: User, sim: SimControl) -> None:
    account, _ = linked(alice, sim)
    assert synced(account) == sync.Outcome.SYNCED  # the backfill: account, orders, fills
    state = SyncState.objects.get(account=account)
    assert state.idle
    assert state.last_requests == 3
    pass
    assert synced(account) == sync.Outcome.SYNCED
    assert SyncState.objects.get(account=account).last_requests == 1


def test_the_sync_spends_the_keys_shared_budget_through_redis(alice: User, sim: SimControl) -> None:
    account, creds = linked(alice, sim)
    fingerprint = ApiKey(creds["api_key"]).fingerprint
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert sync.account_sync(account.pk) == sync.Outcome.SYNCED  # no limiter: the shared one
    assert client.exists(f"perpex:rl:sync:acct:{fingerprint}")  # the sync's share
    assert client.exists(f"perpex:rl:acct:{fingerprint}")  # the key's whole budget
    whole = float(client.hget(f"perpex:rl:acct:{fingerprint}", "tokens") or 0)
    assert 110 <= whole <= 120  # the link's two checks and the sync's three came off it


def test_a_key_that_expired_after_linking_asks_for_a_relink(alice: User, sim: SimControl) -> None:
    account, _ = linked(alice, sim, expires_in=2)
    time.sleep(2.2)
    assert synced(account) == sync.Outcome.NEEDS_RELINK
    account.refresh_from_db()
    assert account.status == AccountStatus.NEEDS_RELINK
    assert "PerpEx refused the credentials" in account.last_error

"""Cash flows recorded by the sync: a deposit on the simulator becomes one inferred flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import httpx
import pytest

from accounts.models import ExchangeAccount, User
from exchange_common.ratelimit import NoRateLimit
from portfolio.models import CashFlow, FundingPayment, Trade
from portfolio.sync import cashflows
from portfolio.sync import pipeline as sync
from tests.conftest import market_data_synced
from tests.portfolio.alerts.test_evaluation import balance, make_account
from tests.portfolio.sync.test_pipeline import trader

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def flows(account: ExchangeAccount) -> list[tuple[D, str, str]]:
    rows = CashFlow.objects.filter(account=account).order_by("time", "pk")
    return [(f.amount, f.kind, f.source) for f in rows]


def test_it_books_the_link_and_infers_deposits_and_withdrawals_but_not_fills_or_fees(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    sync.account_sync(alice_linked.pk, limiter=NoRateLimit())
    [(linked, kind, source)] = flows(alice_linked)
    assert (kind, source) == ("link", "ledger") and linked > 0
    with trader(alice_linked) as client:
        client.new_order(symbol="BTC-USD", side="buy", order_type="market", qty="0.01")
        client.new_order(
            symbol="BTC-USD", side="sell", order_type="market", qty="0.01", reduce_only=True
        )
    httpx.post(
        f"{sim_url}/sim/deposit", json={"address": alice_linked.address, "amount": "500"}
    ).raise_for_status()
    sync.account_sync(alice_linked.pk, limiter=NoRateLimit())
    assert Trade.objects.filter(account=alice_linked).count() == 2  # fees paid: not a flow
    assert flows(alice_linked) == [(linked, "link", "ledger"), (D(500), "deposit", "inferred")]
    httpx.post(
        f"{sim_url}/sim/withdraw", json={"address": alice_linked.address, "amount": "300"}
    ).raise_for_status()
    sync.account_sync(alice_linked.pk, limiter=NoRateLimit())
    assert flows(alice_linked)[-1] == (D(-300), "withdrawal", "inferred")


def test_a_late_funding_payment_takes_back_the_withdrawal_it_looked_like(alice: User) -> None:
    main = make_account(alice)
    balance(main, "1000", NOW - timedelta(minutes=10))
    balance(main, "998.75", NOW - timedelta(minutes=5))
    cashflows.reconcile(main, NOW - cashflows.RECONCILE_WINDOW)
    assert flows(main) == [
        (D(1000), "link", "ledger"),
        (D("-1.25"), "withdrawal", "inferred"),
    ]
    # The funding rate arrives and the rebuild books the payment that moved the balance.
    FundingPayment.objects.create(
        account=main,
        symbol="SOL-USD",
        funding_time=NOW - timedelta(minutes=6),
        funding_rate=D("0.0001"),
        mark_price=D(125),
        position_qty=D(100),
        amount=D("-1.25"),
    )
    cashflows.reconcile(main, NOW - cashflows.RECONCILE_WINDOW)
    assert flows(main) == [(D(1000), "link", "ledger")]


def test_a_settlement_is_paid_when_its_rate_arrives_not_at_the_next_full_read(
    alice_trader: ExchangeAccount, sim_url: str
) -> None:
    with trader(alice_trader) as client:
        client.new_order(symbol="BTC-USD", side="buy", order_type="market", qty="0.01")
    sync.account_sync(alice_trader.pk, limiter=NoRateLimit())
    httpx.post(
        f"{sim_url}/sim/funding", json={"symbol": "BTC-USD", "rate": "0.0001"}
    ).raise_for_status()
    # The account is read before the market: its balance fell, and no rate explains it yet.
    sync.account_sync(alice_trader.pk, limiter=NoRateLimit())
    assert not FundingPayment.objects.filter(account=alice_trader).exists()
    assert [kind for _, kind, _ in flows(alice_trader)] == ["link", "withdrawal"]
    market_data_synced(sim_url)
    book = httpx.get(f"{sim_url}/sim/ledger", params={"address": alice_trader.address}).json()
    paid = [D(f["qty"]) for f in book["funding"]]
    assert [p.amount for p in FundingPayment.objects.filter(account=alice_trader)] == paid
    assert [kind for _, kind, _ in flows(alice_trader)] == ["link"]

"""The equity curve and drawdown, and candles from ``kline/history`` (the simulator over HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ExchangeAccount, User
from portfolio.dashboard import charts
from portfolio.models import CashFlow
from tests.conftest import free_port
from tests.portfolio.alerts.test_evaluation import balance, make_account
from venues import standx as standx_venue

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_the_curve_sums_accounts_and_carries_each_last_value_forward(alice: User) -> None:
    main = make_account(alice)
    hedge = make_account(alice, label="Hedge", address="0xb")
    balance(main, "1000", NOW - timedelta(days=3))  # before the 24 h range: carried in
    balance(hedge, "500", NOW - timedelta(hours=10))
    balance(main, "1100", NOW - timedelta(hours=5))
    balance(main, "990", NOW - timedelta(hours=1))
    link(hedge, "500", NOW - timedelta(hours=10))
    curve = charts.equity_curve([main.pk, hedge.pk], "24h", NOW)
    assert [p.equity for p in curve.points] == [D(1000), D(1500), D(1600), D(1490)]
    assert curve.points[0].time == NOW - timedelta(hours=24)
    # The hedge's 500 was linked, not earned: 1500/1500, 1600/1500, 1490/1600 chain to
    # 1.0666… x 0.93125 = 0.99333…, and 1490 - 1000 - 500 = -10.
    assert curve.pnl == D(-10)
    assert curve.return_pct == D("-0.67")
    assert [(m.time, m.text) for m in curve.markers] == [
        (NOW - timedelta(hours=10), "Account linked +500.00")
    ]


def link(account: ExchangeAccount, amount: str, at: datetime) -> None:
    CashFlow.objects.create(
        account=account, time=at, amount=D(amount), kind="link", source="ledger"
    )


def test_a_deposit_is_marked_and_neither_gain_nor_peak_in_any_range(alice: User) -> None:
    main = make_account(alice)
    balance(main, "1000", NOW - timedelta(hours=30))
    balance(main, "1100", NOW - timedelta(hours=26))
    balance(main, "6100", NOW - timedelta(hours=10))  # 5,000 deposited
    balance(main, "5795", NOW - timedelta(hours=2))  # a 5 % loss
    deposit = {"kind": "deposit", "source": "inferred"}
    CashFlow.objects.create(account=main, time=NOW - timedelta(hours=10), amount=5000, **deposit)
    day, week = (charts.equity_curve([main.pk], key, NOW) for key in ("24h", "7d"))
    # The day starts from 1100: 6100 / 6100 = 0 %, then 5795 / 6100 = -5 %;
    # PnL 5795 - 1100 - 5000 = -305.
    assert (day.pnl, day.return_pct, day.max_drawdown_pct) == (D(-305), D("-5.00"), D("-5.00"))
    # The week from 1000: +10 %, 0 %, -5 % chain to +4.5 %; the drawdown is the same -5 %.
    assert (week.pnl, week.return_pct, week.max_drawdown_pct) == (D(-205), D("4.50"), D("-5.00"))
    assert (
        [m.text for m in day.markers]
        == [m.text for m in week.markers]
        == ["Deposit +5,000.00 (inferred)"]
    )
    assert day.as_json()["markers"][0]["kind"] == "deposit"


def test_drawdown_is_measured_from_the_running_peak(alice: User) -> None:
    main = make_account(alice)
    for hours, equity in [(6, "1000"), (5, "1200"), (4, "900"), (3, "1100"), (2, "1300")]:
        balance(main, equity, NOW - timedelta(hours=hours))
    curve = charts.equity_curve([main.pk], "24h", NOW)
    assert [p.drawdown_pct for p in curve.points] == [
        D(0),
        D(0),
        D("-25.00"),
        D("-8.33"),
        D(0),
    ]
    assert curve.max_drawdown_pct == D("-25.00")


def test_bob_never_sees_alices_equity(alice: User, bob: User) -> None:
    balance(make_account(alice), "1000", NOW - timedelta(hours=1))
    bobs = make_account(bob, address="0xb")
    assert charts.equity_curve([bobs.pk], "24h", NOW).points == []


def test_an_unknown_range_falls_back_to_a_week(alice: User) -> None:
    assert charts.equity_curve([], "forever", NOW).range.key == "7d"


def test_candles_come_from_the_exchanges_kline_history(sim_url: str) -> None:
    cache.clear()
    endpoints = standx_venue.endpoints_for_simulator(sim_url)
    bars = charts.candles(endpoints, "BTC-USD", "1", timezone.now(), "standx")
    assert bars
    assert all(D(b["low"]) <= D(b["open"]) <= D(b["high"]) for b in bars)
    assert [b["time"] for b in bars] == sorted(b["time"] for b in bars)


def test_an_unreachable_exchange_gives_a_sentence_not_a_traceback() -> None:
    cache.clear()
    down = standx_venue.endpoints_for_simulator(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(charts.CandlesUnavailable, match="did not return the price history"):
        charts.candles(down, "BTC-USD", "15", timezone.now(), "standx")


def test_the_symbols_change_is_over_the_candles_of_the_chosen_resolution(
    alice_trader: ExchangeAccount,
) -> None:
    cache.clear()
    client = Client()
    client.force_login(alice_trader.owner)
    url = reverse("portfolio:symbol_candles", args=["standx", "BTC-USD"])
    for resolution in ("1", "60"):
        body = client.get(url, {"resolution": resolution}).json()
        first, last = D(body["candles"][0]["open"]), D(body["candles"][-1]["close"])
        expected = ((last - first) / first * 100).quantize(D("0.01"))
        assert D(body["change_pct"]) == expected


def test_a_range_with_no_candles_has_no_change() -> None:
    assert charts.range_change_pct([]) is None

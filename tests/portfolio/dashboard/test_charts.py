"""The equity curve and drawdown, and candles from ``kline/history`` (the simulator over HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import User
from portfolio.dashboard import charts
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
    curve = charts.equity_curve([main.pk, hedge.pk], "24h", NOW)
    assert [p.equity for p in curve.points] == [D(1000), D(1500), D(1600), D(1490)]
    assert curve.points[0].time == NOW - timedelta(hours=24)
    assert curve.change == D(490)
    assert curve.change_pct == D("49.00")


def test_drawdown_is_measured_from_the_running_peak(alice: User) -> None:
    main = make_account(alice)
    for hours, equity in [(6, "1000"), (5, "1200"), (4, "900"), (3, "1100"), (2, "1300")]:
        balance(main, equity, NOW - timedelta(hours=hours))
    curve = charts.equity_curve([main.pk], "24h", NOW)
    assert [p.drawdown_pct for p in curve.points] == [
        D(0), D(0), D("-25.00"), D("-8.33"), D(0),
    ]  # fmt: skip
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
    bars = charts.candles(endpoints, "BTC-USD", "1", timezone.now())
    assert bars
    assert all(D(b["low"]) <= D(b["open"]) <= D(b["high"]) for b in bars)
    assert [b["time"] for b in bars] == sorted(b["time"] for b in bars)


def test_an_unreachable_exchange_gives_a_sentence_not_a_traceback() -> None:
    cache.clear()
    down = standx_venue.endpoints_for_simulator(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(charts.CandlesUnavailable, match="did not return the price history"):
        charts.candles(down, "BTC-USD", "15", timezone.now())

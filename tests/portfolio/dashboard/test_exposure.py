"""The exposure page: net figures per asset equal the sums of the venues' positions, and a long
on StandX against a short on PerpEx shows as hedged."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import ExchangeAccount, User
from portfolio.models import FundingPayment, Position
from tests import factories
from tests.portfolio.alerts.test_evaluation import balance
from tests.portfolio.conftest import logged_in

pytestmark = pytest.mark.django_db


def hold(account: ExchangeAccount, symbol: str, qty: str, mark: str) -> Position:
    q, m = D(qty), D(mark)
    return Position.objects.create(
        account=account,
        symbol=symbol,
        qty=q,
        entry_price=m,
        mark_price=m,
        position_value=abs(q) * m,
        upnl=D(0),
        margin_mode="cross",
        leverage=D(5),
        maint_margin=abs(q) * m * D("0.01"),
        synced_at=timezone.now(),
    )


def paid(account: ExchangeAccount, symbol: str, amount: str, hours_ago: int) -> None:
    FundingPayment.objects.create(
        account=account,
        symbol=symbol,
        funding_time=timezone.now() - timedelta(hours=hours_ago),
        funding_rate=D("0.0001"),
        mark_price=D(60000),
        position_qty=D(1),
        amount=D(amount),
    )


@pytest.fixture
def venues(alice: User) -> tuple[ExchangeAccount, ExchangeAccount]:
    standx = factories.make_account(alice, "StandX main", "0xa", venue="standx")
    perpex = factories.make_account(alice, "PerpEx hedge", "0xb", venue="perpex")
    factories.make_market_symbol("perpex", "BTC-PERP", "BTC")  # another name, the same asset
    hold(standx, "BTC-USD", "0.5", "60000")
    hold(standx, "ETH-USD", "2", "3000")
    hold(perpex, "BTC-PERP", "-0.4", "60010")
    balance(standx, "10000")
    balance(perpex, "5000")
    return standx, perpex


def test_the_net_figures_are_the_sums_of_the_venues_positions(
    alice: User, venues: tuple[ExchangeAccount, ExchangeAccount]
) -> None:
    response = logged_in(alice).get(reverse("portfolio:exposure"))
    assets = {e.asset: e for e in response.context["page"].assets}
    positions = Position.objects.filter(account__owner=alice)
    btc = [p for p in positions if p.symbol.startswith("BTC")]
    assert assets["BTC"].net_notional == sum(p.qty * p.mark_price for p in btc)
    assert assets["BTC"].gross_notional == sum(abs(p.qty) * p.mark_price for p in btc)
    assert assets["BTC"].net_units == D("0.1")
    assert assets["ETH"].net_notional == D(6000)
    assert set(assets) == {"BTC", "ETH"}


def test_a_hedge_across_two_venues_shows_as_hedged(
    alice: User, venues: tuple[ExchangeAccount, ExchangeAccount]
) -> None:
    response = logged_in(alice).get(reverse("portfolio:exposure"))
    assets = {e.asset: e for e in response.context["page"].assets}
    assert assets["BTC"].hedged
    assert not assets["ETH"].hedged
    assert assets["BTC"].venues == ("perpex", "standx")
    page = response.content.decode()
    assert "hedged 80%" in page  # 24,004 short against 30,000 long
    breaks = assets["BTC"].breaks_first
    assert breaks is not None
    # PerpEx's 0.4 short on 5,000: (5000 - 240) / (0.4 x 1.01) = 11,782 away (19.6 %); StandX's
    # 0.5 long on 10,000 with ETH held still: (10000 - 360) / (0.5 x 0.99) = 19,475 (32.5 %).
    assert (breaks.venue, breaks.symbol) == ("perpex", "BTC-PERP")
    assert "Breaks first: PerpEx BTC-PERP" in page


def test_funding_paid_and_received_per_venue(
    alice: User, venues: tuple[ExchangeAccount, ExchangeAccount]
) -> None:
    standx, perpex = venues
    paid(standx, "BTC-USD", "-3.5", 1)
    paid(standx, "BTC-USD", "-1.5", 2)
    paid(perpex, "BTC-PERP", "2.25", 1)
    paid(perpex, "BTC-PERP", "-0.25", 24 * 40)  # older than 30 days: not counted
    response = logged_in(alice).get(reverse("portfolio:exposure"))
    funding = {f.venue: (f.paid, f.received) for f in response.context["page"].funding}
    assert funding == {"standx": (D("-5"), D(0)), "perpex": (D(0), D("2.25"))}


def test_bob_sees_none_of_alices_exposure(
    bob: User, venues: tuple[ExchangeAccount, ExchangeAccount]
) -> None:
    response = logged_in(bob).get(reverse("portfolio:exposure"))
    assert response.context["page"].assets == []
    assert "No account is linked yet" in response.content.decode()


def test_the_overview_shows_the_concentration_index_beside_the_health(
    alice: User, venues: tuple[ExchangeAccount, ExchangeAccount]
) -> None:
    response = logged_in(alice).get(reverse("portfolio:overview"))
    found = response.context["concentration"]
    # BTC: 30,000 long + 24,004 short of gross; ETH: 6,000
    btc, eth, total = D(54004), D(6000), D(60004)
    assert [s.name for s in found.assets] == ["BTC", "ETH"]
    assert found.asset_index == (btc / total) ** 2 + (eth / total) ** 2
    assert found.assets[0].heat_pct == btc / response.context["summary"].equity * 100
    page = response.content.decode()
    assert 'data-field="concentration">0.82' in page
    assert "StandX 60% · PerpEx 40%" in page  # 36,000 and 24,004 of 60,004

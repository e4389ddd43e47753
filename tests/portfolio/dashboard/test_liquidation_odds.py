"""Time to liquidation on the positions page: the distance in the mark's own hourly sigmas,
from the marks stored with the funding history."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from portfolio.models import FundingRate
from tests.portfolio.alerts.test_evaluation import hold_sol, make_account
from tests.portfolio.conftest import logged_in

pytestmark = pytest.mark.django_db

SIGMA = "\N{GREEK SMALL LETTER SIGMA}"


def stored_marks(hours: int) -> None:
    """A zigzag 100, 101, 100, … one funding time an hour: each return is ±ln(1.01)."""
    now = timezone.now()
    FundingRate.objects.bulk_create(
        FundingRate(
            venue="standx",
            symbol="SOL-USD",
            time=now - timedelta(hours=hours - i),
            funding_rate=D("0.0001"),
            mark_price=D(100 + i % 2),
        )
        for i in range(hours)
    )


def test_it_shows_the_hourly_sigma_and_how_many_of_them_liquidation_is(alice: User) -> None:
    hold_sol(make_account(alice))  # isolated: liquidation at 1800 / 19.8 = 90.91
    stored_marks(25)
    page = logged_in(alice).get(reverse("portfolio:positions")).content.decode()
    # ln(1.01) = 0.995 % an hour; ln(100 / 90.91) / 0.00995 = 9.58 sigmas
    assert f"1{SIGMA} hourly move 1.00%; liquidation 9.6{SIGMA} away" in page
    assert "a 1-sigma move over 91.7 h" in page  # 9.58² hours


def test_without_enough_stored_marks_it_says_nothing(alice: User) -> None:
    hold_sol(make_account(alice))
    stored_marks(5)
    page = logged_in(alice).get(reverse("portfolio:positions")).content.decode()
    assert 'data-field="sigma"' not in page

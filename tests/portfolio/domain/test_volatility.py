"""Time to liquidation from the mark's realised volatility: tables over made-up mark histories."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from portfolio.domain.volatility import hourly_sigma, liquidation_odds

T0 = datetime(2026, 11, 21, tzinfo=UTC)
UP = math.log(1.01)  # every step of the zigzag below moves the log price by this much


def zigzag(points: int, every_hours: float = 1) -> list[tuple[datetime, D]]:
    """100, 101, 100, 101, …: each return is ±ln(1.01)."""
    return [(T0 + timedelta(hours=i * every_hours), D(100 + i % 2)) for i in range(points)]


@pytest.mark.parametrize(
    ("marks", "sigma"),
    [
        (zigzag(25), UP),  # hourly returns: the hourly sigma is the return itself
        (zigzag(25, every_hours=8), UP / math.sqrt(8)),  # 8-hourly funding: scaled to an hour
        (zigzag(25, every_hours=0.25), UP * 2),  # quarter-hourly: four returns an hour
        (zigzag(6), None),  # five returns: too few to say
        ([(T0, D(100))] * 10, None),  # ten points at one time: no return at all
    ],
)
def test_the_hourly_sigma(marks: list[tuple[datetime, D]], sigma: float | None) -> None:
    got = hourly_sigma(marks)
    assert got == pytest.approx(sigma) if sigma is not None else got is None


def test_it_says_how_many_sigmas_liquidation_is_away() -> None:
    liq = D(100) * D(repr(math.exp(-2.4 * UP)))  # 2.4 hourly sigmas under the mark
    odds = liquidation_odds(zigzag(25), D(100), liq)
    assert odds is not None
    assert odds.sigma_hourly_pct == D("1.00")  # ln(1.01) = 0.995 %
    assert odds.sigmas_away == D("2.4")
    assert odds.one_sigma_hours == D("5.8")  # 2.4² hours: that move is 1 sigma over 5.76 h


def test_a_short_counts_the_move_up() -> None:
    liq = D(100) * D(repr(math.exp(3 * UP)))
    odds = liquidation_odds(zigzag(25), D(100), liq)
    assert odds is not None
    assert (odds.sigmas_away, odds.one_sigma_hours) == (D("3.0"), D("9.0"))


@pytest.mark.parametrize(
    ("marks", "liq"),
    [
        (zigzag(4), D(90)),  # too little history
        ([(T0 + timedelta(hours=i), D(100)) for i in range(24)], D(90)),  # a flat market
    ],
)
def test_it_says_nothing_without_a_volatility(marks: list[tuple[datetime, D]], liq: D) -> None:
    assert liquidation_odds(marks, D(100), liq) is None


def test_without_a_liquidation_price_only_the_sigma_is_known() -> None:
    odds = liquidation_odds(zigzag(25), D(100), None)
    assert odds is not None
    assert (odds.sigmas_away, odds.one_sigma_hours) == (None, None)

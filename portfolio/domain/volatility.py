"""Time to liquidation: how large a move to liquidation is against the mark's own volatility.

Realised volatility comes from stored marks at any spacing (the funding-rate history keeps the
mark at every funding time): with log returns ``r_i`` over ``dt_i`` hours, the hourly variance
is ``sum(r_i^2) / sum(dt_i)`` (zero drift, the usual realised-variance estimate). Then:

- a 1-sigma hourly move is ``sigma`` (in percent of the mark);
- liquidation is ``k = |ln(liq / mark)| / sigma`` sigma away, counted in hourly sigmas;
- a move that size is a 1-sigma move over ``k^2`` hours (volatility grows with the square root
  of time): an estimate of how soon it becomes likely, not a forecast.

The maths is in float (logarithms, square roots); what leaves is Decimal, rounded for display.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

MIN_RETURNS = 6  # fewer returns than this say nothing about volatility
SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class LiquidationOdds:
    sigma_hourly_pct: Decimal  # a 1-sigma hourly move, in percent of the mark (2 places)
    sigmas_away: Decimal | None  # liquidation in hourly sigmas (1 place); None: no liq price
    one_sigma_hours: Decimal | None  # the horizon over which that move is 1 sigma (1 place)


def hourly_sigma(marks: Sequence[tuple[datetime, Decimal]]) -> float | None:
    """The realised hourly volatility (a fraction) of time-ordered ``(time, mark)`` points;
    None with fewer than :data:`MIN_RETURNS` usable returns."""
    squares, hours, returns = 0.0, 0.0, 0
    for (t0, p0), (t1, p1) in pairwise(marks):
        dt = (t1 - t0).total_seconds() / SECONDS_PER_HOUR
        if dt <= 0 or p0 <= 0 or p1 <= 0:
            continue  # a duplicate time or a missing price: no return to take
        squares += math.log(float(p1) / float(p0)) ** 2
        hours += dt
        returns += 1
    if returns < MIN_RETURNS or hours <= 0:
        return None
    return math.sqrt(squares / hours)


def _round(value: float, places: str) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def liquidation_odds(
    marks: Sequence[tuple[datetime, Decimal]], mark: Decimal, liq_price: Decimal | None
) -> LiquidationOdds | None:
    """The mark's hourly sigma, and how many of them liquidation is away (None: too little
    history, or a market that did not move at all)."""
    sigma = hourly_sigma(marks)
    if sigma is None or sigma == 0:
        return None
    away = hours = None
    if liq_price is not None and liq_price > 0 and mark > 0:
        k = abs(math.log(float(liq_price) / float(mark))) / sigma
        away, hours = _round(k, "0.1"), _round(k * k, "0.1")
    return LiquidationOdds(_round(sigma * 100, "0.01"), away, hours)

"""A simplified, documented portfolio margin (OCX's real parameters are internal).

Positions are grouped by underlying (BTC-PERP and the dated BTC future together); an isolated
position forms a group of its own. For each group the portfolio is revalued over a grid of
seven price moves from ``-R`` to ``+R`` of its underlying (``R``: :data:`SCAN_RANGE`), every
instrument of the group moving by the same fraction. The worst loss over the grid, plus a
calendar-spread charge of :data:`SPREAD_CHARGE` of the offset notional (gross minus net, so a
long future against a short perp is cheap but never free), is the group's initial margin (IM).
The account's IM is the sum over groups; maintenance margin (MM) is :data:`MM_FRACTION` of IM.
An account whose equity (perps bucket + unrealized PnL) falls below MM is liquidated.

Resting orders count as if filled at their price: IM is taken with every resting buy filled
and, separately, with every resting sell filled, and the larger is the requirement.

Because every figure is linear in the underlying's price, a group's liquidation price has a
closed form (:func:`liquidation_factor`): with the rest of the book held still, the factor
``f`` by which the group's prices must move for equity to meet MM.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from ocx_sim.money import ZERO

SCAN_RANGE = {"BTC": Decimal("0.08"), "ETH": Decimal("0.10"), "SOL": Decimal("0.15")}
GRID = tuple(Decimal(k) / 3 for k in range(-3, 4))
SPREAD_CHARGE = Decimal("0.01")
MM_FRACTION = Decimal("0.5")


@dataclass(frozen=True)
class Exposure:
    underlying: str
    qty: Decimal  # signed: long > 0
    price: Decimal  # the mark (or an order's price)
    group: str = ""  # "" = the cross portfolio; an isolated position's own key otherwise


def _groups(exposures: Iterable[Exposure]) -> dict[tuple[str, str], list[Exposure]]:
    out: dict[tuple[str, str], list[Exposure]] = defaultdict(list)
    for e in exposures:
        if e.qty:
            out[(e.underlying, e.group)].append(e)
    return out


def group_margin(underlying: str, exposures: list[Exposure]) -> Decimal:
    scan = SCAN_RANGE[underlying]
    worst = max(-sum((e.qty * e.price * scan * g for e in exposures), ZERO) for g in GRID)
    gross = sum((abs(e.qty * e.price) for e in exposures), ZERO)
    net = abs(sum((e.qty * e.price for e in exposures), ZERO))
    return max(worst, ZERO) + SPREAD_CHARGE * (gross - net)


def initial_margin(exposures: Iterable[Exposure]) -> Decimal:
    return sum(
        (group_margin(under, group) for (under, _), group in _groups(exposures).items()), ZERO
    )


def maintenance_margin(exposures: Iterable[Exposure]) -> Decimal:
    return initial_margin(exposures) * MM_FRACTION


def margin_with_orders(
    positions: list[Exposure], buys: list[Exposure], sells: list[Exposure]
) -> Decimal:
    """IM with every resting buy filled, or every resting sell, whichever needs more."""
    return max(initial_margin(positions + buys), initial_margin(positions + sells))


def liquidation_factor(
    equity: Decimal, exposures: list[Exposure], underlying: str, group: str = ""
) -> Decimal | None:
    """The factor ``f`` by which the marks of ``(underlying, group)`` must move for equity to
    equal MM, the rest held still; None when no positive move gets there.

    equity(f) = E + D·(f - 1) with D the group's signed notional, and MM(f) = M_o + M_g·f, so
    f = (E - D - M_o) / (M_g - D).
    """
    groups = _groups(exposures)
    mine = groups.get((underlying, group))
    if not mine:
        return None
    notional = sum((e.qty * e.price for e in mine), ZERO)
    mm_group = group_margin(underlying, mine) * MM_FRACTION
    mm_other = (
        sum(
            (group_margin(u, g) for (u, k), g in groups.items() if (u, k) != (underlying, group)),
            ZERO,
        )
        * MM_FRACTION
    )
    denominator = mm_group - notional
    if denominator == 0:
        return None
    factor = (equity - notional - mm_other) / denominator
    return factor if factor > 0 else None

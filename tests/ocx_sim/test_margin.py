"""The simulator's documented portfolio margin, as tables."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ocx_sim.margin import (
    Exposure,
    initial_margin,
    liquidation_factor,
    maintenance_margin,
    margin_with_orders,
)

D = Decimal


@pytest.mark.parametrize(
    ("exposures", "expected"),
    [
        ([], D(0)),
        # 1 BTC long at 50,000: worst move -8 % → 4,000.
        ([Exposure("BTC", D(1), D(50000))], D(4000)),
        ([Exposure("BTC", D(-1), D(50000))], D(4000)),
        # ETH scans 10 %.
        ([Exposure("ETH", D(10), D(3000))], D(3000)),
        # A perp long against a future short nets out: only the 1 % spread charge on the offset.
        ([Exposure("BTC", D(1), D(50000)), Exposure("BTC", D(-1), D(50000))], D(1000)),
        # Half hedged: 8 % of the 25,000 net plus 1 % of the offset (25,000 on each leg).
        ([Exposure("BTC", D(1), D(50000)), Exposure("BTC", D("-0.5"), D(50000))], D(2000) + D(500)),
        # Two underlyings add up: no credit across them.
        ([Exposure("BTC", D(1), D(50000)), Exposure("SOL", D(100), D(100))], D(4000) + D(1500)),
        # An isolated position is margined alone, so it does not offset the cross one.
        ([Exposure("BTC", D(1), D(50000)), Exposure("BTC", D(-1), D(50000), "iso")], D(8000)),
    ],
)
def test_initial_margin_is_the_worst_grid_loss_plus_the_spread_charge(
    exposures: list[Exposure], expected: Decimal
) -> None:
    assert initial_margin(exposures) == expected


def test_maintenance_is_half_the_initial_margin() -> None:
    assert maintenance_margin([Exposure("BTC", D(2), D(50000))]) == D(4000)


def test_resting_orders_count_on_the_side_that_needs_more() -> None:
    position = [Exposure("BTC", D(1), D(50000))]
    buys = [Exposure("BTC", D(1), D(49000))]
    sells = [Exposure("BTC", D(-1), D(51000))]
    assert margin_with_orders(position, buys, sells) == initial_margin(position + buys)
    assert margin_with_orders(position, [], sells) == initial_margin(position)


@pytest.mark.parametrize(
    ("equity", "qty", "direction"),
    [(D(10000), D(1), "down"), (D(10000), D(-1), "up"), (D(60000), D(1), None)],
)
def test_the_liquidation_factor_puts_equity_at_maintenance(
    equity: Decimal, qty: Decimal, direction: str | None
) -> None:
    book = [Exposure("BTC", qty, D(50000))]
    factor = liquidation_factor(equity, book, "BTC")
    if direction is None:  # fully collateralized long: no positive price liquidates it
        assert factor is None
        return
    assert factor is not None
    assert (factor < 1) == (direction == "down")
    moved = [Exposure("BTC", qty, D(50000) * factor)]
    equity_then = equity + qty * D(50000) * (factor - 1)
    assert abs(equity_then - maintenance_margin(moved)) < D("0.000001")

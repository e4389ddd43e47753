"""Flow-adjusted returns and drawdown, checked against figures worked out by hand below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from portfolio.domain.performance import (
    DEPOSIT,
    INFERRED,
    WITHDRAWAL,
    Flow,
    Movement,
    flow_adjusted,
    infer_flows,
)

T0 = datetime(2026, 11, 20, tzinfo=UTC)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


# Alice's portfolio. Each interval earns its gain (equity change less flows) over the money at
# work; flows arriving at the point itself were at work for none of the interval:
#   t1: (1100 - 1000) / 1000                =  +10 %  index 1.1
#   t2: deposit 500; (1710 - 1100 - 500) / 1100 = +10 %  index 1.21 (the peak)
#   t3: (1539 - 1710) / 1710                =  -10 %  index 1.089, drawdown -10 %
#   t4: a linked account brings 1000 and 200 is withdrawn, so +800;
#       (2400.56 - 1539 - 800) / 1539 = 61.56 / 1539 = +4 %  index 1.13256,
#       drawdown 1.13256 / 1.21 - 1 = -6.4 %
# Time-weighted return 13.256 % -> 13.26; PnL 2400.56 - 1000 - 1300 = 100.56
# (interval by interval: +100 +110 -171 +61.56). The raw change would be +1400.56.
SERIES = [
    # time, equity, flows in the interval, index, drawdown %
    (at(0), D("1000"), D("0"), D("1"), D("0.00")),
    (at(1), D("1100"), D("0"), D("1.1"), D("0.00")),
    (at(2), D("1710"), D("500"), D("1.21"), D("0.00")),
    (at(3), D("1539"), D("0"), D("1.089"), D("-10.00")),
    (at(4), D("2400.56"), D("800"), D("1.13256"), D("-6.40")),
]
FLOWS = [
    (at(0), D("250")),  # already in the first value: not counted again
    (at(2), D("500")),  # deposit
    (at(4), D("1000")),  # alice links her second account
    (at(4), D("-200")),  # withdrawal
]


def test_it_chains_interval_returns_with_flows_taken_out() -> None:
    perf = flow_adjusted([(t, e) for t, e, *_ in SERIES], FLOWS)
    assert [(p.time, p.equity, p.flow, p.index, p.drawdown_pct) for p in perf.points] == SERIES
    assert perf.return_pct == D("13.26")
    assert perf.pnl == D("100.56")
    assert perf.flows == D("1300")
    assert perf.max_drawdown_pct == D("-10.00")


def test_it_gives_a_later_range_the_same_intervals_without_the_earlier_flows() -> None:
    # From t2 on: 0.9 x 1.04 = 0.936, PnL 2400.56 - 1710 - 800 = -109.44; the t2 deposit is
    # inside the first value, and the drawdown at t3 is still -10 %.
    perf = flow_adjusted([(t, e) for t, e, *_ in SERIES[2:]], FLOWS)
    assert perf.return_pct == D("-6.40")
    assert perf.pnl == D("-109.44")
    assert perf.max_drawdown_pct == D("-10.00")
    assert [p.drawdown_pct for p in perf.points] == [D("0.00"), D("-10.00"), D("-6.40")]


@pytest.mark.parametrize(
    ("points", "flows", "expected"),
    [
        # A deposit alone is no gain: 1000 -> 6000 with 5000 in earns 0 %, 0 money.
        ([(at(0), D(1000)), (at(1), D(6000))], [(at(1), D(5000))], (D("0.00"), D(0))),
        # Everything withdrawn: the empty interval earns nothing instead of dividing by zero.
        ([(at(0), D(500)), (at(1), D(0))], [(at(1), D(-500))], (D("0.00"), D(0))),
        # Starting from nothing, a linked account's own gain is the return: 1000 -> 1050.
        (
            [(at(0), D(0)), (at(1), D(1000)), (at(2), D(1050))],
            [(at(1), D(1000))],
            (D("5.00"), D(50)),
        ),
        # A deposit half-way through the interval was at work for half of it:
        # 100 / (1000 + 1000 / 2) = 6.67 %.
        (
            [(at(0), D(1000)), (at(2), D(2100))],
            [(at(1), D(1000))],
            (D("6.67"), D(100)),
        ),
        # One point has no return yet.
        ([(at(0), D(1000))], [], (None, None)),
    ],
)
def test_it_handles_the_edges(
    points: list[tuple[datetime, D]],
    flows: list[tuple[datetime, D]],
    expected: tuple[D | None, D | None],
) -> None:
    perf = flow_adjusted(points, flows)
    assert (perf.return_pct, perf.pnl) == expected


def test_it_infers_deposits_and_withdrawals_that_fills_fees_and_funding_do_not_explain() -> None:
    balances = [
        (at(0), D("1000")),
        (at(1), D("1048")),  # a fill: pnl 50, fee 2
        (at(2), D("1546.5")),  # a funding payment of -1.5 and a deposit of 500
        (at(3), D("1346.5")),  # a withdrawal of 200
        (at(4), D("1346.504")),  # rounding between our funding and the venue's: no flow
    ]
    explained = [
        Movement(at(0), D("-7")),  # already in the first reading
        Movement(at(1), D("48")),
        Movement(at(2) - timedelta(minutes=5), D("-1.5")),
    ]
    assert infer_flows(7, balances, explained) == [
        Flow(7, at(2), D("500"), DEPOSIT, INFERRED),
        Flow(7, at(3), D("-200"), WITHDRAWAL, INFERRED),
    ]

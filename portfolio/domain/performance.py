"""Performance with external cash flows taken out: pure Decimal maths, no Django, no venue.

A deposit, a withdrawal or a newly linked account moves equity without being profit or loss.
Here they are *flows*: each has an account, a time, an amount (positive into the portfolio), a
kind and a source ("ledger" when a record says so, "inferred" when it is the balance change
that fills, fees and funding do not explain). Returns are time-weighted: every interval between
two points of the curve earns its gain (the equity change less its flows) over the money at
work in it, and the intervals chain into a unit index (a NAV per unit) that flows do not move.
Drawdown is measured on that index, so a deposit neither hides a loss nor raises the peak.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import pairwise

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")

DEPOSIT, WITHDRAWAL, LINK = "deposit", "withdrawal", "link"
KINDS = (DEPOSIT, WITHDRAWAL, LINK)
LEDGER, INFERRED = "ledger", "inferred"
SOURCES = (LEDGER, INFERRED)


@dataclass(frozen=True)
class Flow:
    account_id: int
    time: datetime
    amount: Decimal  # > 0 into the portfolio, < 0 out of it
    kind: str
    source: str


@dataclass(frozen=True)
class Movement:
    """A balance change with a known cause: a fill's PnL less its fee, or a funding payment."""

    time: datetime
    amount: Decimal


def infer_flows(
    account_id: int,
    balances: Sequence[tuple[datetime, Decimal]],
    explained: Iterable[Movement],
    tolerance: Decimal = CENT,
) -> list[Flow]:
    """The flows hidden in successive balance readings of one account.

    Balance (not equity) is compared because price moves only change unrealized PnL. A movement
    belongs to the reading that first includes it: previous reading < its time <= this one. Any
    change beyond ``tolerance`` that the movements do not explain is a deposit or withdrawal at
    the time of the reading that shows it. The tolerance absorbs rounding, since funding is
    rebuilt from rate x mark and the venue may round its own books differently.
    """
    moves = sorted(explained, key=lambda m: m.time)
    flows: list[Flow] = []
    index = 0
    while index < len(moves) and balances and moves[index].time <= balances[0][0]:
        index += 1
    for (_, before), (time, after) in pairwise(balances):
        known = ZERO
        while index < len(moves) and moves[index].time <= time:
            known += moves[index].amount
            index += 1
        unexplained = after - before - known
        if abs(unexplained) > tolerance:
            kind = DEPOSIT if unexplained > 0 else WITHDRAWAL
            flows.append(Flow(account_id, time, unexplained, kind, INFERRED))
    return flows


@dataclass(frozen=True)
class NavPoint:
    time: datetime
    equity: Decimal
    flow: Decimal  # the flows that entered in the interval ending here
    index: Decimal  # value of one unit invested at the first point (starts at 1)
    drawdown_pct: Decimal  # of the index from its running peak, <= 0


@dataclass(frozen=True)
class Performance:
    points: list[NavPoint]
    return_pct: Decimal | None  # time-weighted, over the whole series
    pnl: Decimal | None  # money: equity change less the flows
    flows: Decimal  # the flows inside the series (not those already in its first value)
    max_drawdown_pct: Decimal


def flow_adjusted(
    points: Sequence[tuple[datetime, Decimal]], flows: Iterable[tuple[datetime, Decimal]]
) -> Performance:
    """Time-weighted return, PnL and drawdown of an equity series with the flows taken out.

    ``points`` are (the time the value is as of, equity); ``flows`` are (time, amount), and one
    at or before the first point is already in its value. An interval's return is its gain
    (equity change less its flows) over the money at work in it: the starting equity plus each
    flow weighted by the share of the interval it was there for (modified Dietz), so a deposit
    just before a point earns nothing and one just after the previous point counts in full. An
    interval with no money at work (everything withdrawn, or nothing linked yet) earns nothing
    rather than dividing by zero.
    """
    pending = sorted(flows, key=lambda f: f[0])
    out: list[NavPoint] = []
    index, peak, worst, total_flow = ONE, ONE, ZERO, ZERO
    cursor = 0
    while cursor < len(pending) and points and pending[cursor][0] <= points[0][0]:
        cursor += 1
    for time, equity in points:
        flow, at_work = ZERO, ZERO
        if out:
            span = Decimal((time - out[-1].time).total_seconds())
            at_work = out[-1].equity
            while cursor < len(pending) and pending[cursor][0] <= time:
                when, amount = pending[cursor]
                flow += amount
                at_work += amount * Decimal((time - when).total_seconds()) / span
                cursor += 1
            if at_work > 0:
                index = index * (ONE + (equity - out[-1].equity - flow) / at_work)
            total_flow += flow
        peak = max(peak, index)
        drawdown = _pct(index / peak)
        worst = min(worst, drawdown)
        out.append(NavPoint(time, equity, flow, index, drawdown))
    if len(out) < 2:
        return Performance(out, None, None, ZERO, worst)
    return_pct = _pct(index)
    pnl = out[-1].equity - out[0].equity - total_flow
    return Performance(out, return_pct, pnl, total_flow, worst)


def _pct(ratio: Decimal) -> Decimal:
    """``ratio - 1`` in percent to the cent; adding zero turns a "-0.00" into "0.00"."""
    return ((ratio - ONE) * HUNDRED).quantize(CENT) + ZERO

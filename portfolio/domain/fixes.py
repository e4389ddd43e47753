"""The fix, computed: the smallest actions that bring a scope's health back to the clear level.

For every position whose health (its own when isolated, the cross bucket's otherwise) is below
the user's warning level, each action the venue allows is sized so that the health the risk
engine (:mod:`portfolio.domain.risk`) computes *after* it is at or just above ``target``:

- **reduce** a cross position by a quantity rounded *up* to the symbol's lot (and at least its
  minimum order): the closed share's PnL is realized into the wallet, so the bucket's equity only
  loses the taker fee of the reduce-only market order, while its maintenance margin falls with
  the notional. One lot less would leave the health below ``target``. When the whole position
  has to go, the action is a **close**;
- **add margin** to an isolated position (``add_isolated_margin``), rounded up to ``money_step``;
- **transfer** into the cross bucket (``bucket_transfer``), rounded up likewise.

Two actions are never offered, because the same engine says they change nothing:

- reducing an *isolated* position gives back the same share of its holding margin as of its
  maintenance margin (the StandX simulator's rule, and the venues' usual one), so its health and
  liquidation price stay where they are;
- lowering leverage: maintenance margin is notional times the venue's tier rate, whatever the
  leverage, and a leverage change moves no margin (StandX's ``change_leverage``), so the health
  multiple does not move either.

After an action the venue has not reported yet, so every resulting liquidation price is ours
(a reported or hybrid position is recomputed as hybrid without the venue's figure: estimated).

No Django, no I/O: frozen dataclasses in, frozen dataclasses out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal

from portfolio.domain import risk

ZERO = Decimal(0)
REDUCE, CLOSE, ADD_MARGIN, TRANSFER = "reduce", "close", "add_margin", "transfer"
DEFAULT_MONEY_STEP = Decimal("0.01")
# The closed-form estimate is exact in Decimal; these bound the lot-by-lot correction anyway.
MAX_STEPS = 50


@dataclass(frozen=True)
class Lot:
    """How a symbol's orders are sized, and what a reduce-only market order costs."""

    step: Decimal  # the quantity tick
    min_qty: Decimal = ZERO
    taker_fee: Decimal = ZERO


@dataclass(frozen=True)
class Offers:
    """What the venue lets the trader do (``venues.base.Capabilities``' flags)."""

    add_isolated_margin: bool = False
    bucket_transfer: bool = False


@dataclass(frozen=True)
class Action:
    kind: str  # REDUCE, CLOSE, ADD_MARGIN or TRANSFER
    symbol: str  # the position acted on ("" for a transfer into the cross bucket)
    amount: Decimal  # the quantity to reduce or close, or the money to add or transfer
    side: str  # the reduce-only order's side ("sell" reduces a long); "" for money
    health: Decimal | None  # the scope's health after; None when nothing is left at risk
    liq_price: Decimal | None  # of the position the fix is for, after the action
    distance_pct: Decimal | None


@dataclass(frozen=True)
class Fix:
    """What to do about one position in warning or critical."""

    symbol: str
    margin_mode: str  # "isolated" or "cross": whose health it is
    health: Decimal  # now
    target: Decimal  # the clear level the actions reach
    actions: tuple[Action, ...]  # smallest first of each kind; empty when none reaches target


def _ceil(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def _isolated(p: risk.PositionInput) -> bool:
    return p.margin_mode == "isolated" and p.holding_margin is not None


def _after(p: risk.PositionInput, **changes: object) -> risk.PositionInput:
    # The venue has not reported the new state: its liquidation price is ours from here.
    model = risk.COMPUTED if p.risk_model == risk.COMPUTED else risk.HYBRID
    return replace(p, exchange_liq_price=None, risk_model=model, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Outcome:
    health: Decimal | None
    liq_price: Decimal | None
    distance_pct: Decimal | None


def _outcome(
    account: risk.AccountInput, positions: Sequence[risk.PositionInput], index: int
) -> _Outcome:
    result = risk.account_risk(account, positions)
    p, pr = positions[index], result.positions[index]
    health = pr.health if _isolated(p) else result.cross_health
    return _Outcome(health, pr.liq_price, pr.distance_pct)


def reduced(
    account: risk.AccountInput,
    positions: Sequence[risk.PositionInput],
    index: int,
    qty: Decimal,
    taker_fee: Decimal = ZERO,
) -> tuple[risk.AccountInput, list[risk.PositionInput]]:
    """The account after ``qty`` of ``positions[index]`` closes at its mark by a taker order.

    The closed share's PnL, less the fee, goes to the wallet (the cross balance); an isolated
    position gives back the same share of its holding margin; maintenance margin follows the
    notional at the same rate. A position closed completely leaves the list.
    """
    p = positions[index]
    share = qty / p.size
    realized = p.side * qty * (p.mark_price - p.entry_price)
    released = (p.holding_margin or ZERO) * share if _isolated(p) else ZERO
    fee = qty * p.mark_price * taker_fee
    wallet = replace(account, cross_balance=account.cross_balance + realized + released - fee)
    left = p.size - qty
    rest = list(positions)
    if left == 0:
        del rest[index]
        return wallet, rest
    rest[index] = _after(
        p,
        qty=left * p.side,
        maint_margin=p.maint_margin * (1 - share),
        holding_margin=(p.holding_margin or ZERO) * (1 - share) if _isolated(p) else None,
        initial_margin=p.initial_margin * (1 - share) if p.initial_margin else p.initial_margin,
    )
    return wallet, rest


def _reduce(
    account: risk.AccountInput,
    positions: Sequence[risk.PositionInput],
    index: int,
    target: Decimal,
    lot: Lot,
) -> Action | None:
    """The smallest lot-rounded reduce of a cross position that brings the bucket to target."""
    p = positions[index]
    others_cross = any(
        not _isolated(o) and o.maint_margin for i, o in enumerate(positions) if i != index
    )

    def health_after(qty: Decimal) -> Decimal | None:
        after_account, after = reduced(account, positions, index, qty, lot.taker_fee)
        if qty == p.size:
            return risk.account_risk(after_account, after).cross_health
        return _outcome(after_account, after, index).health

    def enough(qty: Decimal) -> bool:
        health = health_after(qty)
        return health is None or health >= target

    before = risk.account_risk(account, positions)
    equity, maint = before.cross_equity, before.cross_maint_margin
    mark, rate = p.mark_price, p.maint_rate
    # E - f q m >= T (MM - q m r)  <=>  q >= (T MM - E) / (m (T r - f))
    slope = mark * (target * rate - lot.taker_fee)
    # Where the fee costs more than a reduce frees (slope <= 0) only a close can help.
    estimate = max((target * maint - equity) / slope, lot.step) if slope > 0 else p.size
    qty = min(max(_ceil(estimate, lot.step), lot.min_qty, lot.step), p.size)
    steps = 0
    while not enough(qty) and qty < p.size and steps < MAX_STEPS:
        qty = min(qty + lot.step, p.size)
        steps += 1
    if not enough(qty):
        return None  # even closing all of it leaves the bucket below target
    while qty - lot.step >= max(lot.min_qty, lot.step) and enough(qty - lot.step):
        qty -= lot.step  # never far above: the smallest lot count that still reaches target
    side = "sell" if p.side > 0 else "buy"
    if qty == p.size:
        health = None if not others_cross else health_after(qty)
        return Action(CLOSE, p.symbol, qty, side, health, None, None)
    after_account, after = reduced(account, positions, index, qty, lot.taker_fee)
    out = _outcome(after_account, after, index)
    return Action(REDUCE, p.symbol, qty, side, out.health, out.liq_price, out.distance_pct)


def _add_money(
    account: risk.AccountInput,
    positions: Sequence[risk.PositionInput],
    index: int,
    target: Decimal,
    step: Decimal,
) -> Action:
    """Margin into the isolated position, or a transfer into the cross bucket: both are
    ``health = (E + y) / MM``, so ``y = T MM - E`` rounded up to the money step."""
    p = positions[index]
    result = risk.account_risk(account, positions)
    if _isolated(p):
        equity = (p.holding_margin or ZERO) + risk.upnl(p)
        maint = p.maint_margin
    else:
        equity, maint = result.cross_equity, result.cross_maint_margin
    amount = max(_ceil(target * maint - equity, step), step)

    def moved(y: Decimal) -> tuple[risk.AccountInput, list[risk.PositionInput]]:
        if _isolated(p):
            after = list(positions)
            after[index] = _after(p, holding_margin=(p.holding_margin or ZERO) + y)
            return account, after
        cross = replace(account, cross_balance=account.cross_balance + y)
        return cross, [_after(o) if i == index else o for i, o in enumerate(positions)]

    out = _outcome(*moved(amount), index)
    while out.health is not None and out.health < target:  # never below, whatever rounding did
        amount += step
        out = _outcome(*moved(amount), index)
    kind = ADD_MARGIN if _isolated(p) else TRANSFER
    symbol = p.symbol if _isolated(p) else ""
    return Action(kind, symbol, amount, "", out.health, out.liq_price, out.distance_pct)


def fixes(
    account: risk.AccountInput,
    positions: Sequence[risk.PositionInput],
    *,
    warning: Decimal,
    target: Decimal,
    lots: Mapping[str, Lot],
    offers: Offers,
    money_step: Decimal = DEFAULT_MONEY_STEP,
) -> dict[str, Fix]:
    """A :class:`Fix` for every position whose scope's health is below ``warning``, by symbol.

    ``target`` is the user's clear level (at or above ``warning``); ``lots`` the symbols' order
    sizing (a symbol without one gets no reduce); ``offers`` what the venue allows.
    """
    result = risk.account_risk(account, positions)
    out: dict[str, Fix] = {}
    for index, (p, pr) in enumerate(zip(positions, result.positions, strict=True)):
        health = pr.health if _isolated(p) else result.cross_health
        if health is None or health >= warning:
            continue
        actions: list[Action] = []
        lot = lots.get(p.symbol)
        if not _isolated(p) and lot is not None:
            reduce = _reduce(account, positions, index, target, lot)
            if reduce is not None:
                actions.append(reduce)
        if (offers.add_isolated_margin and _isolated(p)) or (
            offers.bucket_transfer and not _isolated(p)
        ):
            actions.append(_add_money(account, positions, index, target, money_step))
        mode = "isolated" if _isolated(p) else "cross"
        out[p.symbol] = Fix(p.symbol, mode, health, target, tuple(actions))
    return out

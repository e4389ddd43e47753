"""Risk metrics for positions and accounts on any venue: pure functions over Decimal.

Three risk models, one per venue's kind of margin (``venues.base.RiskModel``):

- **computed** (StandX): the venue gives each position's maintenance margin; we compute the
  liquidation price and health and cross-check the venue's liquidation price;
- **reported** (OCX, portfolio margin): the venue's liquidation price and maintenance margin are
  the truth; between two reads the distance and health are *estimated* from the latest mark;
- **hybrid** (PerpEx): the venue's liquidation price where it gives one, ours where it does not,
  health computed where the maintenance margin is given or derivable, estimated between reads.

Every result says where its liquidation price comes from (``liq_source``) and whether the
figures are estimates (``estimated``), so the pages can say so.

Formulas follow shared/docs/risk-metrics.md, verified there on the docs' own example:

- ``r`` (maintenance rate) = maint_margin / position_value, derived at run time, never hard-coded;
- scope equity ``E``: isolated ``holding_margin + upnl``; cross ``cross_balance + cross_upnl``;
- health multiple = E / MM (StandX's ``mmr``): liquidation when it reaches 1;
- liquidation price with everything else held still:
  ``liq = m - s * (E - MM) / (q * (1 - s * r))`` (s = +1 long / -1 short, q = |qty|);
- bankruptcy price: the same with ``r`` replaced by the taker fee;
- distance to liquidation: ``s * (m - liq)`` and that over ``m``.

No Django, no I/O: inputs and results are frozen dataclasses, so tests are tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

ZERO = Decimal(0)
ONE = Decimal(1)
# The risk models (venues.base.RiskModel's values; the domain imports nothing from the venues).
COMPUTED, REPORTED, HYBRID = "computed", "reported", "hybrid"
HUNDRED = Decimal(100)
# Our liquidation price and the exchange's may differ by rounding; beyond this they disagree.
LIQ_DIVERGENCE_TOLERANCE = Decimal("0.005")  # 0.5 % of the mark


@dataclass(frozen=True)
class PositionInput:
    """One position as StandX reports it (``query_positions``), plus the mark to use."""

    symbol: str
    qty: Decimal  # signed: negative is short
    entry_price: Decimal
    mark_price: Decimal
    margin_mode: str  # "cross" | "isolated"
    maint_margin: Decimal
    initial_margin: Decimal | None = None
    holding_margin: Decimal | None = None  # isolated: the margin the position holds
    leverage: Decimal | None = None
    exchange_liq_price: Decimal | None = None
    taker_fee: Decimal | None = None
    price_tick: Decimal | None = None
    risk_model: str = COMPUTED

    @property
    def side(self) -> int:
        return 1 if self.qty > 0 else -1

    @property
    def size(self) -> Decimal:
        return abs(self.qty)

    @property
    def position_value(self) -> Decimal:
        return self.size * self.mark_price

    @property
    def maint_rate(self) -> Decimal:
        """r = MM / notional at the mark the exchange used (derived, never hard-coded)."""
        value = self.position_value
        return self.maint_margin / value if value else ZERO


@dataclass(frozen=True)
class PositionRisk:
    symbol: str
    side: str
    notional: Decimal
    upnl: Decimal
    roe: Decimal | None  # uPnL / initial margin
    effective_leverage: Decimal | None  # notional / scope equity (isolated), else None
    maint_rate: Decimal
    health: Decimal | None  # isolated: E / MM; cross: the bucket's (see AccountRisk)
    liq_price: Decimal | None  # ours
    bankruptcy_price: Decimal | None
    distance: Decimal | None  # price distance to liquidation, positive while safe
    distance_pct: Decimal | None  # of the mark, in percent
    liq_divergence: bool  # ours and the exchange's disagree beyond tolerance
    liq_source: str = COMPUTED  # "computed" (ours) or "reported" (the venue's)
    estimated: bool = False  # distance and health follow the mark between the venue's reports


class ReportedPosition(Protocol):
    """A position as a venue reports it: the client's record or the stored row."""

    @property
    def symbol(self) -> str: ...
    @property
    def qty(self) -> Decimal: ...
    @property
    def entry_price(self) -> Decimal: ...
    @property
    def mark_price(self) -> Decimal | None: ...
    @property
    def margin_mode(self) -> str: ...
    @property
    def maint_margin(self) -> Decimal | None: ...
    @property
    def initial_margin(self) -> Decimal | None: ...
    @property
    def isolated_margin(self) -> Decimal | None: ...
    @property
    def leverage(self) -> Decimal | None: ...
    @property
    def liq_price(self) -> Decimal | None: ...


def position_input(
    p: ReportedPosition, price_tick: Decimal | None = None, risk_model: str = COMPUTED
) -> PositionInput:
    """The risk engine's input for a reported position (no mark yet: its entry price)."""
    return PositionInput(
        symbol=p.symbol,
        qty=p.qty,
        entry_price=p.entry_price,
        mark_price=p.mark_price or p.entry_price,
        margin_mode=p.margin_mode,
        maint_margin=p.maint_margin or ZERO,
        initial_margin=p.initial_margin,
        holding_margin=p.isolated_margin,
        leverage=p.leverage,
        exchange_liq_price=p.liq_price,
        price_tick=price_tick,
        risk_model=risk_model,
    )


@dataclass(frozen=True)
class AccountInput:
    cross_balance: Decimal
    cross_available: Decimal | None = None
    isolated_balance: Decimal = ZERO


class ReportedBalance(Protocol):
    """A balance as a venue reports it, normalized: the client's record or the stored row."""

    @property
    def cash(self) -> Decimal: ...
    @property
    def available(self) -> Decimal | None: ...
    @property
    def cross_balance(self) -> Decimal | None: ...


def account_input(b: ReportedBalance | None) -> AccountInput:
    """The cross scope's money: the venue's cross balance, or the cash where it has no scopes."""
    if b is None:
        return AccountInput(cross_balance=ZERO)
    cross = b.cross_balance if b.cross_balance is not None else b.cash
    return AccountInput(cross_balance=cross, cross_available=b.available)


@dataclass(frozen=True)
class Exposure:
    symbol: str
    long_notional: Decimal
    short_notional: Decimal

    @property
    def net(self) -> Decimal:
        return self.long_notional - self.short_notional


@dataclass(frozen=True)
class AccountRisk:
    equity: Decimal  # cross bucket + isolated scopes
    cross_equity: Decimal
    cross_maint_margin: Decimal
    cross_health: Decimal | None  # None: no cross position
    margin_ratio_pct: Decimal | None  # MM / E x 100 (Binance style; 100 % = liquidation)
    available: Decimal | None
    total_notional: Decimal
    effective_leverage: Decimal | None
    positions: tuple[PositionRisk, ...]
    exposure: tuple[Exposure, ...]

    @property
    def worst_health(self) -> Decimal | None:
        values = [p.health for p in self.positions if p.health is not None]
        if self.cross_health is not None:
            values.append(self.cross_health)
        return min(values, default=None)


def upnl(p: PositionInput, mark: Decimal | None = None) -> Decimal:
    return p.qty * ((mark if mark is not None else p.mark_price) - p.entry_price)


def liquidation_price(
    *, side: int, size: Decimal, mark: Decimal, equity: Decimal, maint: Decimal, rate: Decimal
) -> Decimal | None:
    """The price at which the scope's equity meets its maintenance margin (None: unreachable)."""
    denominator = size * (ONE - side * rate)
    if size == 0 or denominator == 0:
        return None
    price = mark - side * (equity - maint) / denominator
    return price if price > 0 else None


def _round_price(price: Decimal | None, tick: Decimal | None) -> Decimal | None:
    # To the nearest tick, as StandX reports it (the docs' 112373.5013… shows as 112373.50).
    if price is None or tick is None:
        return price
    return price.quantize(tick, rounding=ROUND_HALF_UP)


def _distance(
    side: int, mark: Decimal, liq: Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    if liq is None:
        return None, None
    gap = side * (mark - liq)
    return gap, gap / mark * HUNDRED


def position_risk(
    p: PositionInput, *, scope_equity: Decimal | None = None, scope_maint: Decimal | None = None
) -> PositionRisk:
    """Metrics of one position. For a cross position pass the cross bucket's equity and
    maintenance margin: its liquidation price then assumes every other position holds still."""
    pnl = upnl(p)
    rate = p.maint_rate
    if p.margin_mode == "isolated" and p.holding_margin is not None:
        equity = p.holding_margin + pnl
        maint = p.maint_margin
    else:
        equity = scope_equity if scope_equity is not None else ZERO
        maint = scope_maint if scope_maint is not None else p.maint_margin
    isolated = p.margin_mode == "isolated" and p.holding_margin is not None
    health = equity / maint if isolated and maint else None
    liq = liquidation_price(
        side=p.side, size=p.size, mark=p.mark_price, equity=equity, maint=maint, rate=rate
    )
    bankruptcy = None
    if p.taker_fee is not None:
        bankruptcy = liquidation_price(
            side=p.side,
            size=p.size,
            mark=p.mark_price,
            equity=equity,
            maint=p.size * p.mark_price * p.taker_fee,
            rate=p.taker_fee,
        )
    liq = _round_price(liq, p.price_tick)
    bankruptcy = _round_price(bankruptcy, p.price_tick)
    source = COMPUTED
    if p.risk_model == REPORTED or (p.risk_model == HYBRID and p.exchange_liq_price):
        # The venue's figure is the truth; ours only fills a gap it leaves (hybrid).
        liq, source = p.exchange_liq_price, REPORTED
    if p.risk_model == REPORTED and not p.maint_margin:
        health = None  # portfolio margin gives no per-position maintenance margin
    distance, distance_pct = _distance(p.side, p.mark_price, liq)
    divergence = False
    if source == REPORTED:
        pass  # nothing of ours to compare with
    elif liq is not None and p.exchange_liq_price:
        divergence = abs(liq - p.exchange_liq_price) / p.mark_price > LIQ_DIVERGENCE_TOLERANCE
    elif (liq is None) != (p.exchange_liq_price is None):
        # One side sees a liquidation price, the other none: worth a look unless it is far away.
        divergence = p.exchange_liq_price is not None and isolated
    notional = p.position_value
    return PositionRisk(
        symbol=p.symbol,
        side="long" if p.side > 0 else "short",
        notional=notional,
        upnl=pnl,
        roe=pnl / p.initial_margin if p.initial_margin else None,
        effective_leverage=notional / equity if isolated and equity > 0 else None,
        maint_rate=rate,
        health=health,
        liq_price=liq,
        bankruptcy_price=bankruptcy,
        distance=distance,
        distance_pct=distance_pct,
        liq_divergence=divergence,
        liq_source=source,
        estimated=p.risk_model != COMPUTED,
    )


def account_risk(account: AccountInput, positions: Iterable[PositionInput]) -> AccountRisk:
    """Metrics of a whole account: the cross bucket's health and each position's."""
    items = list(positions)
    cross = [p for p in items if p.margin_mode != "isolated" or p.holding_margin is None]
    cross_upnl = sum((upnl(p) for p in cross), ZERO)
    cross_equity = account.cross_balance + cross_upnl
    cross_maint = sum((p.maint_margin for p in cross), ZERO)
    risks = tuple(
        position_risk(p, scope_equity=cross_equity, scope_maint=cross_maint)
        if p in cross
        else position_risk(p)
        for p in items
    )
    isolated_equity = sum(
        ((p.holding_margin or ZERO) + upnl(p) for p in items if p not in cross), ZERO
    )
    equity = cross_equity + isolated_equity
    total_notional = sum((p.position_value for p in items), ZERO)
    exposure: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for p in items:
        exposure[p.symbol][0 if p.side > 0 else 1] += p.position_value
    cross_health = cross_equity / cross_maint if cross and cross_maint else None
    return AccountRisk(
        equity=equity,
        cross_equity=cross_equity,
        cross_maint_margin=cross_maint,
        cross_health=cross_health,
        margin_ratio_pct=cross_maint / cross_equity * HUNDRED
        if cross and cross_equity > 0
        else None,
        available=account.cross_available,
        total_notional=total_notional,
        effective_leverage=total_notional / equity if equity > 0 and items else None,
        positions=risks,
        exposure=tuple(Exposure(s, v[0], v[1]) for s, v in sorted(exposure.items())),
    )


@dataclass(frozen=True)
class StressResult:
    moves: Mapping[str, Decimal]  # symbol -> percent move applied
    risk: AccountRisk
    liquidated: tuple[str, ...]  # symbols whose positions would be liquidated


def stress(
    account: AccountInput,
    positions: Iterable[PositionInput],
    moves: Mapping[str, Decimal],
    *,
    all_symbols: Decimal | None = None,
) -> StressResult:
    """The account after marks move by ``moves[symbol]`` percent (or ``all_symbols`` for all).

    Maintenance margin scales with the notional at the new mark (same rate); an isolated
    position liquidates at health ≤ 1; the cross bucket liquidates all its positions together.
    """
    items = list(positions)
    applied: dict[str, Decimal] = {}
    moved = []
    for p in items:
        pct = moves.get(p.symbol, all_symbols if all_symbols is not None else ZERO)
        applied[p.symbol] = pct
        mark = p.mark_price * (ONE + pct / HUNDRED)
        rate = p.maint_rate
        moved.append(replace(p, mark_price=mark, maint_margin=p.size * mark * rate))
    risk = account_risk(account, moved)
    liquidated = {r.symbol for r in risk.positions if r.health is not None and r.health <= ONE}
    if risk.cross_health is not None and risk.cross_health <= ONE:
        liquidated |= {
            p.symbol for p in moved if p.margin_mode != "isolated" or p.holding_margin is None
        }
    return StressResult(moves=applied, risk=risk, liquidated=tuple(sorted(liquidated)))

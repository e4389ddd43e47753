"""Order validation and preview, before anything is signed. Pure: no Django, no I/O.

Every rule returns a sentence for the field it concerns, so a trader under stress reads what to
change. The rules follow StandX's docs: ticks and decimals and size limits from
``query_symbol_info``; limit prices within ``price_cap_ratio`` / ``price_floor_ratio`` of the
mark; leverage and margin mode must match an open position; a reduce-only order may not exceed
the position minus pending reduce-only orders (TP/SL included); TP above and SL below the price
for a buy (the other way round for a sell).

StandX has no preview endpoint, so :func:`preview` computes one with the same Decimal maths as
the risk engine (``portfolio.domain.risk``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal

from portfolio.domain import risk

# The status of a symbol that takes orders (the venues' word for it is mapped to this one).
SYMBOL_TRADING = "trading"

ZERO = Decimal(0)
ONE = Decimal(1)
SIDES = ("buy", "sell")
ORDER_TYPES = ("limit", "market")
TIME_IN_FORCE = ("gtc", "ioc", "alo")
MARGIN_MODES = ("cross", "isolated")


@dataclass(frozen=True)
class SymbolRules:
    symbol: str
    price_tick_decimals: int
    qty_tick_decimals: int
    min_qty: Decimal
    max_qty: Decimal | None  # None: the venue publishes no maximum (PerpEx, OCX)
    max_leverage: Decimal
    maker_fee: Decimal
    taker_fee: Decimal
    price_cap_ratio: Decimal | None  # None: no price band published
    price_floor_ratio: Decimal | None
    maint_rate: Decimal = Decimal("0.005")  # the lowest tier's, when no position tells us
    status: str = SYMBOL_TRADING  # StandX's symbol status; only "trading" takes orders

    @property
    def price_tick(self) -> Decimal:
        return ONE.scaleb(-self.price_tick_decimals)

    @property
    def qty_tick(self) -> Decimal:
        return ONE.scaleb(-self.qty_tick_decimals)


@dataclass(frozen=True)
class PositionState:
    """The account's current position in the symbol (qty 0 when flat)."""

    qty: Decimal = ZERO  # signed: negative is short
    entry_price: Decimal = ZERO
    margin_mode: str = ""
    leverage: Decimal | None = None
    holding_margin: Decimal | None = None  # isolated
    maint_margin: Decimal = ZERO
    pending_reduce_only: Decimal = ZERO  # open reduce-only qty, TP/SL included


@dataclass(frozen=True)
class Ticket:
    """What the order form asks for, already parsed into Decimal (None where left empty)."""

    symbol: str
    side: str
    order_type: str
    qty: Decimal
    price: Decimal | None = None
    time_in_force: str = "gtc"
    reduce_only: bool = False
    tp_price: Decimal | None = None
    sl_price: Decimal | None = None
    leverage: int | None = None
    margin_mode: str | None = None
    post_only: bool = False  # where the venue has a post-only flag (else the ALO time in force)


Errors = dict[str, list[str]]


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"


def validate(t: Ticket, rules: SymbolRules, position: PositionState, mark: Decimal) -> Errors:
    """Every problem with ``t``, by form field; empty when it may be signed and sent."""
    errors: Errors = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if rules.status != SYMBOL_TRADING:
        # Nothing else about the ticket matters while StandX takes no orders for the symbol.
        return {"symbol": [closed_market(rules.symbol, rules.status)]}
    if t.side not in SIDES:
        err("side", "Choose buy or sell.")
    if t.order_type not in ORDER_TYPES:
        err("order_type", "Choose limit or market.")
    if t.time_in_force not in TIME_IN_FORCE:
        err("time_in_force", "Choose GTC, IOC or ALO.")
    # Quantity: positive, on the tick, within the symbol's limits.
    if t.qty <= 0:
        err("qty", "Enter a quantity above zero.")
    elif _places(t.qty) > rules.qty_tick_decimals:
        err("qty", f"Quantity goes in steps of {_fmt(rules.qty_tick)} for {rules.symbol}.")
    elif t.qty < rules.min_qty:
        err("qty", f"The smallest order for {rules.symbol} is {_fmt(rules.min_qty)}.")
    elif rules.max_qty is not None and t.qty > rules.max_qty:
        err("qty", f"The largest order for {rules.symbol} is {_fmt(rules.max_qty)}.")
    # Price: a limit order needs one, on the tick and within the band around the mark.
    if t.order_type == "limit":
        if t.price is None:
            err("price", "A limit order needs a price.")
        elif t.price <= 0:
            err("price", "Enter a price above zero.")
        elif _places(t.price) > rules.price_tick_decimals:
            err("price", f"Price goes in steps of {_fmt(rules.price_tick)} for {rules.symbol}.")
        else:
            # A venue that publishes no band (None) takes any price on the tick.
            cap_ratio, floor_ratio = rules.price_cap_ratio, rules.price_floor_ratio
            cap = None if cap_ratio is None else mark * (ONE + cap_ratio)
            floor = None if floor_ratio is None else mark * (ONE - floor_ratio)
            if cap is not None and cap_ratio is not None and t.price > cap:
                err(
                    "price",
                    f"Price is more than {_fmt(cap_ratio * 100)} % above "
                    f"the mark ({_fmt(mark)}): at most {_fmt(_down(cap, rules.price_tick))}.",
                )
            elif floor is not None and floor_ratio is not None and t.price < floor:
                err(
                    "price",
                    f"Price is more than {_fmt(floor_ratio * 100)} % below "
                    f"the mark ({_fmt(mark)}): at least {_fmt(_up(floor, rules.price_tick))}.",
                )
    elif t.order_type == "market":
        if t.price is not None:
            err("price", "A market order takes no price; leave it empty or choose limit.")
        if t.time_in_force == "alo":
            err("time_in_force", "ALO (post-only) needs a limit order.")
    # Leverage and margin mode: within limits, and as the position has them.
    if t.leverage is not None:
        if t.leverage < 1:
            err("leverage", "Leverage is at least 1×.")
        elif t.leverage > rules.max_leverage:
            err("leverage", f"{rules.symbol} allows at most {_fmt(rules.max_leverage)}× leverage.")
        elif position.qty and position.leverage is not None and t.leverage != position.leverage:
            err(
                "leverage",
                f"Your {rules.symbol} position is at {_fmt(position.leverage)}×; an "
                "order must use the same leverage (change the position's leverage first).",
            )
    if t.margin_mode is not None:
        if t.margin_mode not in MARGIN_MODES:
            err("margin_mode", "Choose cross or isolated.")
        elif position.qty and position.margin_mode and t.margin_mode != position.margin_mode:
            err(
                "margin_mode",
                f"Your {rules.symbol} position is {position.margin_mode}; an order "
                "must use the same margin mode.",
            )
    # Reduce-only: only against a position, and not beyond what is left to reduce.
    if t.reduce_only and t.side in SIDES and t.qty > 0:
        closing = (t.side == "sell" and position.qty > 0) or (t.side == "buy" and position.qty < 0)
        room = abs(position.qty) - position.pending_reduce_only
        if not position.qty:
            err("reduce_only", f"You hold no {rules.symbol} position to reduce.")
        elif not closing:
            side = "long" if position.qty > 0 else "short"
            err(
                "side",
                f"A reduce-only order against your {side} must "
                f"{'sell' if position.qty > 0 else 'buy'}.",
            )
        elif t.qty > room:
            err(
                "qty",
                f"Reduce-only can be at most {_fmt(max(room, ZERO))}: your position of "
                f"{_fmt(abs(position.qty))} minus {_fmt(position.pending_reduce_only)} already "
                "in reduce-only orders.",
            )
    # Take-profit and stop-loss on the right side of the price the order fills at.
    reference = t.price if t.order_type == "limit" and t.price else mark
    for field, value, label in (
        ("tp_price", t.tp_price, "Take-profit"),
        ("sl_price", t.sl_price, "Stop-loss"),
    ):
        if value is None or t.side not in SIDES:
            continue
        if value <= 0:
            err(field, f"{label} must be above zero.")
            continue
        if _places(value) > rules.price_tick_decimals:
            err(field, f"{label} goes in steps of {_fmt(rules.price_tick)}.")
            continue
        above = (field == "tp_price") == (t.side == "buy")
        if above and value <= reference:
            err(field, f"{label} for a {t.side} must be above {_fmt(reference)}.")
        if not above and value >= reference:
            err(field, f"{label} for a {t.side} must be below {_fmt(reference)}.")
    return errors


def closed_market(symbol: str, status: str) -> str:
    """Why an order for a symbol that is not in status "trading" cannot be sent."""
    return (
        f"{symbol} is not open for trading on StandX right now (its status is {status!r}), so "
        "no order can be placed in it. Positions you hold there still show in your portfolio."
    )


def _down(value: Decimal, tick: Decimal) -> Decimal:
    return value.quantize(tick, rounding=ROUND_DOWN)


def _up(value: Decimal, tick: Decimal) -> Decimal:
    down = _down(value, tick)
    return down if down == value else down + tick


@dataclass(frozen=True)
class Preview:
    fill_price: Decimal  # the limit price, or the mark for a market order
    notional: Decimal
    initial_margin: Decimal
    fee: Decimal  # maker for a resting limit (GTC/ALO), taker otherwise
    fee_kind: str
    position_qty: Decimal  # signed, after the fill
    position_entry: Decimal | None
    liq_price: Decimal | None
    health: Decimal | None  # of the resulting isolated position, or the cross bucket
    account_health: Decimal | None  # the account's worst health after the fill


def preview(
    t: Ticket,
    rules: SymbolRules,
    position: PositionState,
    mark: Decimal,
    account: risk.AccountInput,
    others: list[risk.PositionInput],
) -> Preview:
    """The order as if it filled completely at its price (a market order at the mark).

    ``others`` are the account's other positions, so the cross bucket's health after the fill
    includes them. Assumes a valid ticket.
    """
    price = t.price if t.order_type == "limit" and t.price else mark
    signed = t.qty if t.side == "buy" else -t.qty
    leverage = Decimal(t.leverage or position.leverage or rules.max_leverage)
    notional = t.qty * price
    maker = t.order_type == "limit" and t.time_in_force in ("gtc", "alo")
    fee = notional * (rules.maker_fee if maker else rules.taker_fee)
    new_qty = position.qty + signed
    if not new_qty:
        entry = None
    elif position.qty and (position.qty > 0) == (signed > 0):  # adding to the position
        entry = (position.qty * position.entry_price + signed * price) / new_qty
    elif position.qty and abs(signed) <= abs(position.qty):  # reducing it
        entry = position.entry_price
    else:  # opening, or flipping through zero
        entry = price
    mode = t.margin_mode or position.margin_mode or "cross"
    rate = (
        position.maint_margin / (abs(position.qty) * mark)
        if position.qty and position.maint_margin and mark
        else rules.maint_rate
    )
    # The wallet (the cross balance) pays the fee, takes the closed share's PnL and the isolated
    # margin it releases, and funds the isolated margin an opening order holds: as the venue
    # books a fill, so a reduce previews the health the fixes promise (portfolio.domain.fixes).
    closing = bool(position.qty) and (position.qty > 0) != (signed > 0)
    closed = min(t.qty, abs(position.qty)) if closing else ZERO
    realized = (closed if position.qty > 0 else -closed) * (price - position.entry_price)
    wallet = realized - fee
    if closing and position.margin_mode == "isolated" and position.holding_margin:
        wallet += position.holding_margin * closed / abs(position.qty)
    liq = health = account_health = None
    if new_qty:
        assert entry is not None
        size = abs(new_qty)
        holding = None
        if mode == "isolated":
            kept = (
                (position.holding_margin or ZERO) * min(ONE, size / abs(position.qty))
                if (position.qty and (position.qty > 0) == (new_qty > 0))
                else ZERO
            )
            added = (t.qty - closed) * price / leverage if t.qty > closed else ZERO
            holding = kept + added
            wallet -= added
        moved = risk.PositionInput(
            symbol=t.symbol,
            qty=new_qty,
            entry_price=entry,
            mark_price=mark,
            margin_mode=mode,
            maint_margin=size * mark * rate,
            holding_margin=holding,
            leverage=leverage,
            price_tick=rules.price_tick,
        )
        account = replace(account, cross_balance=account.cross_balance + wallet)
        result = risk.account_risk(account, [*others, moved])
        mine = result.positions[-1]
        liq = mine.liq_price
        health = mine.health if mode == "isolated" else result.cross_health
        account_health = result.worst_health
    elif others:
        account = replace(account, cross_balance=account.cross_balance + wallet)
        account_health = risk.account_risk(account, others).worst_health
    return Preview(
        fill_price=price,
        notional=notional,
        initial_margin=notional / leverage,
        fee=fee,
        fee_kind="maker" if maker else "taker",
        position_qty=new_qty,
        position_entry=entry,
        liq_price=liq,
        health=health,
        account_health=account_health,
    )

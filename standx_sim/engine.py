"""The exchange engine: accounts, orders, fills, positions, margin, funding and liquidation.

Everything runs on the event loop thread and every public method finishes without awaiting,
so each request sees and leaves a consistent state.

Rules this engine applies (documented choices where the docs are silent):

- Wallet model: `cross_balance` is the wallet (deposits, realized PnL, fees, cross funding).
  Opening an isolated position moves `fill_value / leverage` from the wallet into the position's
  `holding_margin`; closing returns the proportional share. Isolated funding is booked to the
  holding margin (so it moves the isolated liquidation price), cross funding to the wallet.
  `cross_margin` = the cross positions' initial margin (`entry_value / leverage`).
- Trade `pnl` is gross (before fees); fees are booked separately to the wallet.
- Validation errors (symbol, decimals, ticks, min/max qty, price band, leverage, reduce-only
  room, available balance) are synchronous HTTP 400s. `alo` orders that would take are accepted
  and then rejected by matching (status `rejected`, ws-api code 400 "alo order rejected").
- Reduce-only room = |position qty| - sum of pending reduce-only qty on the symbol, TP/SL
  children included (the docs' literal rule, so a TP and an SL for the same fill both count).
- TP/SL: `tp_price`/`sl_price` on an order create reduce-only market children in status
  `untriggered` for the filled quantity (grown on later fills). A child triggers when the mark
  crosses its price, executes at the mark as a taker, and cancels its sibling.
- Resting limit orders fill completely at their own price (maker fee) when the mark crosses them.
- `change_margin_mode` is refused while the symbol has an open position or open orders.
  `change_leverage` never moves margin: raising it is always allowed (up to the tier maximum for
  the current position value); lowering it needs the larger initial margin to be covered (cross:
  by `cross_available`, isolated: by the holding margin).
- `transfer_margin` (isolated positions only): positive `amount_in` moves wallet money into the
  position (needs `cross_available`), negative withdraws while holding margin stays >= the
  initial margin.
- Liquidation: an isolated position when `holding_margin + upnl <= maint_margin`; the whole cross
  bucket when `cross_balance + cross_upnl <= sum of cross maint_margin`. The position is closed
  at the mark by a reduce-only market order with a nonzero `liq_id` and `source` "liquidation".
  An isolated loss beyond its holding margin, or a negative wallet after a cross liquidation, is
  absorbed by an insurance-fund credit (ledger kind `insurance_fund`).
- New orders on a symbol whose status is not "trading" (halted or delisted through the control
  API) are refused with 400; resting orders, TP/SL and liquidations keep running.
- Closed positions stay listed with qty "0" and status "closed" (and null liq/bankruptcy/mmr).
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from standx_sim import margin, views
from standx_sim.clock import Clock, iso, next_hour, utc_now
from standx_sim.errors import ApiError
from standx_sim.market import Market
from standx_sim.money import ZERO, cut, fmt, is_multiple, parse_decimal, to_tick
from standx_sim.symbols import SYMBOLS, SymbolSpec, get_symbol

SIDES = ("buy", "sell")
ORDER_TYPES = ("limit", "market")
TIME_IN_FORCE = ("gtc", "ioc", "alo")
MARGIN_MODES = ("cross", "isolated")
OPEN_STATUSES = ("open", "untriggered")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class EventSink(Protocol):
    def user_event(self, user: str, channel: str, data: dict[str, Any]) -> None: ...

    def public_trade(self, symbol: str, data: dict[str, Any]) -> None: ...


class NullSink:
    def user_event(self, user: str, channel: str, data: dict[str, Any]) -> None:
        return None

    def public_trade(self, symbol: str, data: dict[str, Any]) -> None:
        return None


@dataclass(slots=True)
class Order:
    id: int
    user: str
    symbol: str
    side: str
    order_type: str
    qty: Decimal
    price: Decimal
    time_in_force: str
    reduce_only: bool
    cl_ord_id: str
    leverage: int
    margin_mode: str
    position_id: int
    created_at: datetime
    updated_at: datetime
    status: str = "open"
    fill_qty: Decimal = ZERO
    fill_value: Decimal = ZERO
    margin: Decimal = ZERO
    avail_locked: Decimal = ZERO
    liq_id: int = 0
    source: str = "user"
    remark: str = ""
    tp_price: Decimal | None = None
    sl_price: Decimal | None = None
    trigger: str = ""  # "tp" / "sl" for children
    parent_id: int = 0
    children: list[int] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.fill_qty


@dataclass(slots=True)
class Position:
    id: int
    user: str
    symbol: str
    margin_mode: str
    leverage: int
    created_at: datetime
    updated_at: datetime
    qty: Decimal = ZERO  # signed: negative is short
    entry_value: Decimal = ZERO  # absolute entry notional
    holding_margin: Decimal = ZERO  # isolated only
    realized_pnl: Decimal = ZERO
    status: str = "open"
    opened: bool = False  # False until the first fill: such rows are not listed


@dataclass(slots=True)
class PositionConfig:
    leverage: int
    margin_mode: str = "cross"


@dataclass
class Account:
    user: str
    chain: str
    address: str
    created_at: datetime
    funded: bool = False
    cross_balance: Decimal = ZERO
    positions: dict[str, Position] = field(default_factory=dict)
    configs: dict[str, PositionConfig] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    cl_index: dict[str, int] = field(default_factory=dict)
    open_orders: dict[int, Order] = field(default_factory=dict)
    trades: list[dict[str, Any]] = field(default_factory=list)
    funding: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    realized: list[tuple[datetime, Decimal]] = field(default_factory=list)
    version: int = 0
    updated_at: datetime | None = None

    def config(self, spec: SymbolSpec) -> PositionConfig:
        cfg = self.configs.get(spec.symbol)
        if cfg is None:
            cfg = PositionConfig(spec.def_leverage)
            self.configs[spec.symbol] = cfg
        return cfg


@dataclass
class PlaceResult:
    order: Order
    rejected: str | None = None


@dataclass
class Bucket:
    """Cross-bucket figures of one account at the current marks."""

    equity: Decimal = ZERO
    maint: Decimal = ZERO
    upnl: Decimal = ZERO
    margin: Decimal = ZERO


def _int_param(value: Any, field_name: str) -> int:
    if isinstance(value, bool):
        raise ApiError(400, f"{field_name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ApiError(400, f"{field_name} must be an integer")


class Engine:
    def __init__(self, seed: int = 0, clock: Clock = utc_now, backfill_minutes: int = 0) -> None:
        self.seed = seed
        self.clock = clock
        self.sink: EventSink = NullSink()
        self.rng = random.Random(f"engine-{seed}")  # noqa: S311 - seeded simulation
        self.markets: dict[str, Market] = {}
        for index, spec in enumerate(SYMBOLS.values()):
            rng = random.Random(f"market-{seed}-{index}")  # noqa: S311 - seeded simulation
            market = Market(spec, rng)
            market.set_price(spec.start_price)
            market.rebuild_book()
            self.markets[spec.symbol] = market
        if backfill_minutes:
            now = clock()
            for market in self.markets.values():
                market.backfill(now, backfill_minutes)
        self.accounts: dict[str, Account] = {}
        self.paused = False
        self.started = time.monotonic()
        self._order_ids = itertools.count(2_000_001)
        self._trade_ids = itertools.count(400_001)
        self._position_ids = itertools.count(1)
        self._liq_ids = itertools.count(1)
        self._funding_ids = itertools.count(1)
        self._change_ids = itertools.count(1)
        self.resting: dict[str, dict[int, Order]] = {s: {} for s in SYMBOLS}
        self.triggers: dict[str, dict[int, Order]] = {s: {} for s in SYMBOLS}
        self.holders: set[str] = set()  # users with at least one open position
        self.next_funding = next_hour(clock())

    # -- time -----------------------------------------------------------------------------

    def engine_time(self) -> float:
        return time.monotonic() - self.started

    # -- accounts -------------------------------------------------------------------------

    def ensure_account(self, chain: str, address: str, user: str) -> Account:
        account = self.accounts.get(user)
        if account is None:
            account = Account(user=user, chain=chain, address=address, created_at=self.clock())
            self.accounts[user] = account
        return account

    def account(self, user: str) -> Account:
        account = self.accounts.get(user)
        if account is None:
            raise ApiError(404, "user not found")
        return account

    def deposit(self, account: Account, amount: Decimal) -> None:
        if amount < 0:
            raise ApiError(400, "deposit must be >= 0")
        account.funded = True
        self._change(account, "deposit", None, amount, amount, ZERO, 0)
        self._emit_balance(account)

    def withdraw(self, account: Account, amount: Decimal) -> None:
        """Money leaving the venue account (to the wallet or another venue): cross wallet only,
        and no more than is available, as a real withdrawal would be limited."""
        if amount <= 0:
            raise ApiError(400, "withdrawal must be > 0")
        if amount > self.balance(account)["cross_available"]:
            raise ApiError(400, "insufficient available balance to withdraw")
        self._change(account, "withdrawal", None, -amount, -amount, ZERO, 0)
        self._emit_balance(account)

    def _change(
        self,
        account: Account,
        kind: str,
        symbol: str | None,
        amount: Decimal,
        cross_delta: Decimal,
        isolated_delta: Decimal,
        ref_id: int,
    ) -> None:
        """Apply a wallet change and record it in the ledger (amount = change of total balance)."""
        account.cross_balance += cross_delta
        now = self.clock()
        account.version += 1
        account.updated_at = now
        account.changes.append(
            {
                "id": next(self._change_ids),
                "time": iso(now),
                "kind": kind,
                "symbol": symbol,
                "amount": fmt(amount),
                "cross_delta": fmt(cross_delta),
                "isolated_delta": fmt(isolated_delta),
                "cross_balance": fmt(account.cross_balance),
                "isolated_balance": fmt(self._isolated_balance(account)),
                "ref_id": ref_id,
            }
        )

    # -- orders: validation ---------------------------------------------------------------

    def place_order(self, user: str, params: Any) -> PlaceResult:
        """Validate (ApiError 400 on failure), then match; `rejected` is set by matching."""
        if not isinstance(params, dict):
            raise ApiError(400, "body must be a JSON object")
        account = self.account(user)
        spec = get_symbol(params.get("symbol"))
        market = self.markets[spec.symbol]
        if market.status != "trading":
            raise ApiError(400, f"symbol {spec.symbol} is not trading (status {market.status})")
        side = params.get("side")
        if side not in SIDES:
            raise ApiError(400, "side must be buy or sell")
        order_type = params.get("order_type")
        if order_type not in ORDER_TYPES:
            raise ApiError(400, "order_type must be limit or market")
        tif = params.get("time_in_force") or ("ioc" if order_type == "market" else "gtc")
        if tif not in TIME_IN_FORCE:
            raise ApiError(400, "time_in_force must be gtc, ioc or alo")
        if order_type == "market":
            if tif == "alo":
                raise ApiError(400, "market orders cannot be alo")
            tif = "ioc"
        reduce_only = params.get("reduce_only", False)
        if reduce_only is None:
            reduce_only = False
        if not isinstance(reduce_only, bool):
            raise ApiError(400, "reduce_only must be a boolean")
        qty = parse_decimal(params.get("qty"), "qty")
        self._check_qty(spec, qty)
        price = ZERO
        if order_type == "limit":
            if params.get("price") is None:
                raise ApiError(400, "price is required for limit orders")
            price = parse_decimal(params.get("price"), "price")
            self._check_price(spec, market, price, "price")
        ref_price = (
            price
            if order_type == "limit"
            else (market.best_ask() if side == "buy" else market.best_bid())
        )
        tp_price = self._optional_price(spec, market, params.get("tp_price"), "tp_price")
        sl_price = self._optional_price(spec, market, params.get("sl_price"), "sl_price")
        if tp_price is not None and (
            tp_price <= ref_price if side == "buy" else tp_price >= ref_price
        ):
            raise ApiError(
                400, f"tp_price must be {'above' if side == 'buy' else 'below'} the order price"
            )
        if sl_price is not None and (
            sl_price >= ref_price if side == "buy" else sl_price <= ref_price
        ):
            raise ApiError(
                400, f"sl_price must be {'below' if side == 'buy' else 'above'} the order price"
            )
        cl_ord_id = params.get("cl_ord_id")
        if cl_ord_id is None or cl_ord_id == "":
            cl_ord_id = self._ulid()
        if not isinstance(cl_ord_id, str) or len(cl_ord_id) > 64:
            raise ApiError(400, "cl_ord_id must be a string of at most 64 characters")
        existing = account.cl_index.get(cl_ord_id)
        if existing is not None and existing in account.open_orders:
            raise ApiError(400, f"duplicate cl_ord_id: {cl_ord_id}")
        cfg = account.config(spec)
        position = account.positions.get(spec.symbol)
        pos_qty = position.qty if position else ZERO
        busy = pos_qty != 0 or any(o.symbol == spec.symbol for o in account.open_orders.values())
        if params.get("margin_mode") is not None:
            mode = params["margin_mode"]
            if mode not in MARGIN_MODES:
                raise ApiError(400, "margin_mode must be cross or isolated")
            if mode != cfg.margin_mode:
                if busy:
                    raise ApiError(400, "margin_mode must match position")
                cfg.margin_mode = mode
        if params.get("leverage") is not None:
            leverage = _int_param(params["leverage"], "leverage")
            self._check_leverage(spec, leverage)
            if leverage != cfg.leverage:
                if busy:
                    raise ApiError(400, "leverage must match position")
                cfg.leverage = leverage
        buying = side == "buy"
        if reduce_only:
            if pos_qty == 0 or (pos_qty > 0) == buying:
                raise ApiError(400, "reduce_only order would not reduce the position")
            pending = sum(
                (
                    o.remaining
                    for o in account.open_orders.values()
                    if o.symbol == spec.symbol and o.reduce_only
                ),
                ZERO,
            )
            room = abs(pos_qty) - pending
            if qty > room:
                raise ApiError(
                    400,
                    f"reduce_only qty {fmt(qty)} exceeds position qty {fmt(abs(pos_qty))} "
                    f"minus pending reduce_only qty {fmt(pending)}",
                )
        opening = qty if pos_qty == 0 or (pos_qty > 0) == buying else max(ZERO, qty - abs(pos_qty))
        if reduce_only:
            opening = ZERO
        open_count = sum(1 for o in account.open_orders.values() if o.symbol == spec.symbol)
        if open_count >= spec.max_open_orders:
            raise ApiError(
                400, f"too many open orders on {spec.symbol} (max {spec.max_open_orders})"
            )
        if opening > 0:
            new_size = abs(pos_qty) + opening
            if new_size > spec.max_position_size:
                raise ApiError(400, f"position size would exceed {spec.max_position_size}")
            tier = spec.tier_for(new_size * market.mark)
            if cfg.leverage > tier.max_leverage:
                raise ApiError(
                    400,
                    f"leverage {cfg.leverage} exceeds the {tier.max_leverage}x allowed for a "
                    f"position value of {fmt(to_tick(new_size * market.mark, spec.price_tick))}",
                )
        if not reduce_only:
            required = opening * ref_price / cfg.leverage + qty * ref_price * spec.taker_fee
            available = self.balance(account)["cross_available"] if account.funded else ZERO
            if required > available:
                raise ApiError(
                    400,
                    f"insufficient available balance: need {fmt(cut(required))}, "
                    f"have {fmt(cut(available))}",
                )
        now = self.clock()
        order = Order(
            id=next(self._order_ids),
            user=user,
            symbol=spec.symbol,
            side=side,
            order_type=order_type,
            qty=qty,
            price=price,
            time_in_force=tif,
            reduce_only=reduce_only,
            cl_ord_id=cl_ord_id,
            leverage=cfg.leverage,
            margin_mode=cfg.margin_mode,
            position_id=self._position_for(account, spec).id,
            created_at=now,
            updated_at=now,
            tp_price=tp_price,
            sl_price=sl_price,
        )
        if order_type == "market":
            order.price = to_tick(ref_price, spec.price_tick)
        account.orders[order.id] = order
        account.cl_index[cl_ord_id] = order.id
        return self._match(account, spec, market, order)

    @staticmethod
    def _check_qty(spec: SymbolSpec, qty: Decimal) -> None:
        if qty <= 0:
            raise ApiError(400, "qty must be positive")
        if qty < spec.min_order_qty:
            raise ApiError(
                400, f"qty {fmt(qty)} is below the minimum order qty {spec.min_order_qty}"
            )
        if not is_multiple(qty, spec.qty_tick):
            raise ApiError(400, f"qty {fmt(qty)} is not a multiple of the qty tick {spec.qty_tick}")
        if qty > spec.max_order_qty:
            raise ApiError(
                400, f"qty {fmt(qty)} exceeds the maximum order qty {spec.max_order_qty}"
            )

    @staticmethod
    def _check_price(spec: SymbolSpec, market: Market, price: Decimal, name: str) -> None:
        if price <= 0:
            raise ApiError(400, f"{name} must be positive")
        if not is_multiple(price, spec.price_tick):
            raise ApiError(
                400, f"{name} {fmt(price)} is not a multiple of the price tick {spec.price_tick}"
            )
        low = market.mark * (1 - spec.price_floor_ratio)
        high = market.mark * (1 + spec.price_cap_ratio)
        if not low <= price <= high:
            raise ApiError(
                400,
                f"{name} {fmt(price)} is outside the allowed band "
                f"[{fmt(to_tick(low, spec.price_tick))}, {fmt(to_tick(high, spec.price_tick))}]",
            )

    def _optional_price(
        self, spec: SymbolSpec, market: Market, value: Any, name: str
    ) -> Decimal | None:
        if value is None or value == "":
            return None
        price = parse_decimal(value, name)
        self._check_price(spec, market, price, name)
        return price

    @staticmethod
    def _check_leverage(spec: SymbolSpec, leverage: int) -> None:
        if leverage < 1:
            raise ApiError(400, "leverage must be at least 1")
        if leverage > spec.max_leverage:
            raise ApiError(
                400,
                f"leverage {leverage} exceeds the max leverage {spec.max_leverage} "
                f"of {spec.symbol}",
            )

    def _ulid(self) -> str:
        stamp = int(self.clock().timestamp() * 1000)
        head = "".join(CROCKFORD[(stamp >> (5 * i)) & 31] for i in range(9, -1, -1))
        return head + "".join(self.rng.choice(CROCKFORD) for _ in range(16))

    def _position_for(self, account: Account, spec: SymbolSpec) -> Position:
        position = account.positions.get(spec.symbol)
        if position is None:
            cfg = account.config(spec)
            now = self.clock()
            position = Position(
                id=next(self._position_ids),
                user=account.user,
                symbol=spec.symbol,
                margin_mode=cfg.margin_mode,
                leverage=cfg.leverage,
                created_at=now,
                updated_at=now,
                status="closed",
            )
            account.positions[spec.symbol] = position
        return position

    # -- orders: matching -----------------------------------------------------------------

    def _match(
        self, account: Account, spec: SymbolSpec, market: Market, order: Order
    ) -> PlaceResult:
        buying = order.side == "buy"
        if order.time_in_force == "alo" and market.would_take(order.side, order.price):
            order.status = "rejected"
            order.remark = "alo order rejected"
            self._emit_order(order)
            return PlaceResult(order, "alo order rejected")
        limit = order.price if order.order_type == "limit" else None
        if order.order_type == "market" or market.would_take(order.side, order.price):
            want = order.qty
            if order.reduce_only:
                want = min(want, abs(account.positions[spec.symbol].qty))
            for price, qty in market.take(order.side, want, limit):
                self._fill(account, spec, order, price, qty, maker=False, taker_buy=buying)
        if order.remaining > 0:
            if order.order_type == "limit" and order.time_in_force == "gtc":
                order.status = "open"
                self._rest(account, spec, order)
            else:
                order.status = "canceled" if order.fill_qty < order.qty else "filled"
                if order.fill_qty > 0:
                    order.remark = "ioc remainder canceled"
        else:
            order.status = "filled"
        order.updated_at = self.clock()
        self._emit_order(order)
        self._emit_balance(account)
        return PlaceResult(order)

    def _rest(self, account: Account, spec: SymbolSpec, order: Order) -> None:
        if not order.reduce_only:
            remaining_value = order.remaining * order.price
            order.avail_locked = cut(
                remaining_value / order.leverage + remaining_value * spec.taker_fee
            )
        account.open_orders[order.id] = order
        self.resting[spec.symbol][order.id] = order

    def _close_order(self, account: Account, order: Order, status: str, remark: str = "") -> None:
        order.status = status
        if remark:
            order.remark = remark
        order.avail_locked = ZERO
        order.updated_at = self.clock()
        account.open_orders.pop(order.id, None)
        self.resting[order.symbol].pop(order.id, None)
        self.triggers[order.symbol].pop(order.id, None)
        self._emit_order(order)

    def cancel_order(self, user: str, params: Any) -> Order:
        if not isinstance(params, dict):
            raise ApiError(400, "body must be a JSON object")
        account = self.account(user)
        order = self._find_order(account, params.get("order_id"), params.get("cl_ord_id"))
        if order.status not in OPEN_STATUSES:
            raise ApiError(400, f"order {order.id} is not open (status {order.status})")
        self._close_order(account, order, "canceled", order.remark)
        self._emit_balance(account)
        return order

    def cancel_orders(self, user: str, params: Any) -> list[Order]:
        if not isinstance(params, dict):
            raise ApiError(400, "body must be a JSON object")
        account = self.account(user)
        ids = params.get("order_id_list") or []
        cl_ids = params.get("cl_ord_id_list") or []
        if not isinstance(ids, list) or not isinstance(cl_ids, list) or not (ids or cl_ids):
            raise ApiError(400, "order_id_list or cl_ord_id_list is required")
        targets = [self._find_order(account, i, None) for i in ids]
        targets += [self._find_order(account, None, c) for c in cl_ids]
        done = []
        for order in targets:
            if order.status in OPEN_STATUSES:
                self._close_order(account, order, "canceled")
                done.append(order)
        self._emit_balance(account)
        return done

    def _find_order(self, account: Account, order_id: Any, cl_ord_id: Any) -> Order:
        if order_id is not None and order_id != "":
            found = account.orders.get(_int_param(order_id, "order_id"))
        elif cl_ord_id:
            oid = account.cl_index.get(str(cl_ord_id))
            found = account.orders.get(oid) if oid is not None else None
        else:
            raise ApiError(400, "order_id or cl_ord_id is required")
        if found is None:
            raise ApiError(404, "order not found")
        return found

    # -- fills ----------------------------------------------------------------------------

    def _fill(
        self,
        account: Account,
        spec: SymbolSpec,
        order: Order,
        price: Decimal,
        qty: Decimal,
        *,
        maker: bool,
        taker_buy: bool,
    ) -> dict[str, Any]:
        """Apply one execution to the order, position, wallet and ledger; emit user events."""
        now = self.clock()
        position = self._position_for(account, spec)
        signed = qty if order.side == "buy" else -qty
        value = price * qty
        fee = value * (spec.maker_fee if maker else spec.taker_fee)
        pnl = ZERO
        old_qty = position.qty
        if old_qty != 0 and (old_qty > 0) != (signed > 0):
            close = min(qty, abs(old_qty))
            share = close / abs(old_qty)
            released_entry = (
                position.entry_value if close == abs(old_qty) else position.entry_value * share
            )
            pnl = margin.side_sign(old_qty) * (close * price - released_entry)
            pnl = cut(pnl)
            position.entry_value -= released_entry
            position.qty = old_qty + (close if signed > 0 else -close)
            if position.margin_mode == "isolated":
                released = (
                    position.holding_margin
                    if position.qty == 0
                    else cut(position.holding_margin * share)
                )
                position.holding_margin -= released
                self._change(
                    account, "isolated_margin", spec.symbol, ZERO, released, -released, order.id
                )
            position.realized_pnl += pnl
            if pnl != 0:
                self._change(account, "realized_pnl", spec.symbol, pnl, pnl, ZERO, order.id)
                account.realized.append((now, pnl))
            opening = qty - close
        else:
            opening = qty
        if opening > 0:
            if position.qty == 0:
                position.entry_value = ZERO
                position.margin_mode = order.margin_mode
                position.leverage = order.leverage
                if position.status != "open":
                    position.created_at = now
            position.status = "open"
            position.opened = True
            position.entry_value += opening * price
            position.qty += opening if signed > 0 else -opening
            used = cut(opening * price / order.leverage)
            order.margin += used
            if position.margin_mode == "isolated":
                position.holding_margin += used
                self._change(account, "isolated_margin", spec.symbol, ZERO, -used, used, order.id)
        if position.qty == 0:
            position.status = "closed"
            position.entry_value = ZERO
            if not self._has_positions(account):
                self.holders.discard(account.user)
        else:
            self.holders.add(account.user)
        position.updated_at = now
        self._change(account, "fee", spec.symbol, -fee, -fee, ZERO, order.id)
        order.fill_qty += qty
        order.fill_value += value
        order.updated_at = now
        if order.id in account.open_orders and not order.reduce_only:
            remaining_value = order.remaining * order.price
            order.avail_locked = cut(
                remaining_value / order.leverage + remaining_value * spec.taker_fee
            )
        trade = {
            "created_at": iso(now),
            "fee_asset": "DUSD",
            "fee_qty": fmt(fee),
            "id": next(self._trade_ids),
            "order_id": order.id,
            "pnl": fmt(pnl),
            "price": fmt(price),
            "qty": fmt(qty),
            "side": order.side,
            "symbol": spec.symbol,
            "updated_at": iso(now),
            "user": account.user,
            "value": fmt(value),
            "_time": now,
        }
        account.trades.append(trade)
        market = self.markets[spec.symbol]
        public = market.record_trade(price, qty, taker_buy, now, self.engine_time())
        self.sink.public_trade(spec.symbol, public)
        self.sink.user_event(account.user, "trade", views.trade_view(trade))
        self.sink.user_event(account.user, "position", views.position_stream_view(position))
        if position.qty == 0:
            self._drop_reduce_only(account, spec.symbol)
        elif order.tp_price is not None or order.sl_price is not None:
            self._grow_children(account, spec, order, qty, now)
        return trade

    def _has_positions(self, account: Account) -> bool:
        return any(p.qty != 0 for p in account.positions.values())

    def _drop_reduce_only(self, account: Account, symbol: str) -> None:
        for order in list(account.open_orders.values()):
            if order.symbol == symbol and order.reduce_only:
                self._close_order(account, order, "canceled", "position closed")

    def _grow_children(
        self, account: Account, spec: SymbolSpec, parent: Order, qty: Decimal, now: datetime
    ) -> None:
        if parent.children:
            for child_id in parent.children:
                child = account.orders[child_id]
                if child.status == "untriggered":
                    child.qty += qty
                    child.updated_at = now
                    self._emit_order(child)
            return
        for kind, trigger_price in (("tp", parent.tp_price), ("sl", parent.sl_price)):
            if trigger_price is None:
                continue
            child = Order(
                id=next(self._order_ids),
                user=account.user,
                symbol=spec.symbol,
                side="sell" if parent.side == "buy" else "buy",
                order_type="market",
                qty=qty,
                price=trigger_price,
                time_in_force="ioc",
                reduce_only=True,
                cl_ord_id=f"{parent.cl_ord_id}-{kind}"[:64],
                leverage=parent.leverage,
                margin_mode=parent.margin_mode,
                position_id=parent.position_id,
                created_at=now,
                updated_at=now,
                status="untriggered",
                remark=kind,
                trigger=kind,
                parent_id=parent.id,
            )
            parent.children.append(child.id)
            account.orders[child.id] = child
            account.cl_index[child.cl_ord_id] = child.id
            account.open_orders[child.id] = child
            self.triggers[spec.symbol][child.id] = child
            self._emit_order(child)

    # -- price updates --------------------------------------------------------------------

    def tick(self) -> list[dict[str, Any]]:
        """One engine tick: move every market, then fills, triggers, liquidations, funding.

        Returns the synthetic public trades printed this tick.
        """
        now = self.engine_time()
        when = self.clock()
        prints: list[dict[str, Any]] = []
        for market in self.markets.values():
            market.step(now, self.paused)
            market.record_mark(when)
            if not self.paused:
                for trade in market.synthetic_trades(when, now):
                    prints.append(trade)
                    self.sink.public_trade(market.spec.symbol, trade)
        self.after_price_change()
        if when >= self.next_funding:
            self.next_funding = next_hour(when)
            self.settle_funding()
        return prints

    def set_price(self, symbol: str, price: Decimal) -> None:
        spec = get_symbol(symbol)
        market = self.markets[spec.symbol]
        market.set_price(price)
        market.rebuild_book()
        market.record_mark(self.clock())
        self.after_price_change()

    def after_price_change(self) -> None:
        for symbol, market in self.markets.items():
            spec = market.spec
            for order in list(self.resting[symbol].values()):
                crossed = (
                    market.mark <= order.price
                    if order.side == "buy"
                    else market.mark >= order.price
                )
                if crossed and order.status == "open":
                    self._fill_resting(spec, order)
            for order in list(self.triggers[symbol].values()):
                if order.status == "untriggered" and self._triggered(order, market.mark):
                    self._fire_trigger(spec, market, order)
        self.check_liquidations()

    def _fill_resting(self, spec: SymbolSpec, order: Order) -> None:
        account = self.accounts[order.user]
        # Out of the open set first, so closing the position does not cancel this very order.
        account.open_orders.pop(order.id, None)
        self.resting[spec.symbol].pop(order.id, None)
        qty = order.remaining
        if order.reduce_only:
            position = account.positions.get(spec.symbol)
            qty = min(qty, abs(position.qty) if position else ZERO)
        if qty > 0:
            self._fill(
                account, spec, order, order.price, qty, maker=True, taker_buy=order.side == "sell"
            )
        status = "filled" if order.remaining == 0 else "canceled"
        self._close_order(account, order, status, "" if status == "filled" else "position closed")
        self._emit_balance(account)

    @staticmethod
    def _triggered(order: Order, mark: Decimal) -> bool:
        selling = order.side == "sell"
        if order.trigger == "tp":
            return mark >= order.price if selling else mark <= order.price
        return mark <= order.price if selling else mark >= order.price

    def _fire_trigger(self, spec: SymbolSpec, market: Market, order: Order) -> None:
        account = self.accounts[order.user]
        position = account.positions.get(spec.symbol)
        qty = min(order.remaining, abs(position.qty) if position else ZERO)
        self.triggers[spec.symbol].pop(order.id, None)
        account.open_orders.pop(order.id, None)
        order.status = "open"
        if qty > 0:
            self._fill(
                account, spec, order, market.mark, qty, maker=False, taker_buy=order.side == "buy"
            )
        status = "filled" if order.fill_qty > 0 else "canceled"
        self._close_order(account, order, status, order.remark)
        parent = account.orders.get(order.parent_id)
        if parent is not None:
            for sibling_id in parent.children:
                sibling = account.orders[sibling_id]
                if sibling.id != order.id and sibling.status == "untriggered":
                    self._close_order(
                        account, sibling, "canceled", f"{sibling.trigger} oco canceled"
                    )
        self._emit_balance(account)

    # -- margin views ---------------------------------------------------------------------

    def _isolated_balance(self, account: Account) -> Decimal:
        return sum(
            (p.holding_margin for p in account.positions.values() if p.margin_mode == "isolated"),
            ZERO,
        )

    def maint_rate(self, spec: SymbolSpec, position_value: Decimal) -> Decimal:
        return spec.tier_for(position_value).maint_rate

    def bucket(self, account: Account) -> Bucket:
        bucket = Bucket()
        for position in account.positions.values():
            if position.qty == 0 or position.margin_mode != "cross":
                continue
            spec = SYMBOLS[position.symbol]
            mark = self.markets[position.symbol].mark
            value = abs(position.qty) * mark
            bucket.upnl += margin.upnl(position.qty, position.entry_value, mark)
            bucket.maint += value * self.maint_rate(spec, value)
            bucket.margin += position.entry_value / position.leverage
        bucket.equity = account.cross_balance + bucket.upnl
        return bucket

    def locked(self, account: Account) -> Decimal:
        return sum((o.avail_locked for o in account.open_orders.values()), ZERO)

    def balance(self, account: Account) -> dict[str, Decimal]:
        bucket = self.bucket(account)
        isolated_balance = ZERO
        isolated_upnl = ZERO
        for position in account.positions.values():
            if position.qty != 0 and position.margin_mode == "isolated":
                isolated_balance += position.holding_margin
                isolated_upnl += margin.upnl(
                    position.qty, position.entry_value, self.markets[position.symbol].mark
                )
        locked = self.locked(account)
        cutoff = self.clock() - timedelta(hours=24)
        pnl_24h = sum((pnl for when, pnl in account.realized if when >= cutoff), ZERO)
        cross_margin = cut(bucket.margin)
        balance = account.cross_balance + isolated_balance
        upnl = bucket.upnl + isolated_upnl
        return {
            "isolated_balance": isolated_balance,
            "isolated_upnl": isolated_upnl,
            "cross_balance": account.cross_balance,
            "cross_margin": cross_margin,
            "cross_upnl": bucket.upnl,
            "locked": locked,
            "cross_available": account.cross_balance - cross_margin - locked + bucket.upnl,
            "balance": balance,
            "upnl": upnl,
            "equity": balance + upnl,
            "pnl_freeze": pnl_24h,
        }

    def position_figures(
        self, account: Account, position: Position, bucket: Bucket | None = None
    ) -> dict[str, Decimal | None]:
        """Risk figures of one position at the current mark (risk-metrics.md formulas)."""
        spec = SYMBOLS[position.symbol]
        mark = self.markets[position.symbol].mark
        qty = position.qty
        if qty == 0:
            zero: dict[str, Decimal | None] = {
                "mark_price": mark,
                "position_value": ZERO,
                "upnl": ZERO,
                "maint_margin": ZERO,
                "initial_margin": ZERO,
                "holding_margin": ZERO,
                "mmr": None,
                "liq_price": None,
                "bankruptcy_price": None,
                "entry_price": ZERO,
                "entry_value": ZERO,
                "rate": None,
            }
            return zero
        value = abs(qty) * mark
        rate = self.maint_rate(spec, value)
        upnl = margin.upnl(qty, position.entry_value, mark)
        maint = value * rate
        initial = position.entry_value / position.leverage
        if position.margin_mode == "isolated":
            holding = position.holding_margin
            mmr = margin.health(holding + upnl, maint)
            liq = margin.isolated_price_at(qty, position.entry_value, holding, rate)
            bankrupt = margin.isolated_price_at(qty, position.entry_value, holding, spec.taker_fee)
        else:
            holding = initial
            bucket = bucket or self.bucket(account)
            mmr = margin.health(bucket.equity, bucket.maint)
            liq = margin.cross_price_at(qty, mark, bucket.equity, bucket.maint, rate)
            # Bankruptcy: the bucket's equity only covers this position's closing fee.
            fee_need = value * spec.taker_fee
            bankrupt = margin.cross_price_at(qty, mark, bucket.equity, fee_need, spec.taker_fee)
        return {
            "mark_price": mark,
            "position_value": value,
            "upnl": upnl,
            "maint_margin": maint,
            "initial_margin": initial,
            "holding_margin": holding,
            "mmr": mmr,
            "liq_price": margin.display_price(liq, spec.price_tick),
            "bankruptcy_price": margin.display_price(bankrupt, spec.price_tick),
            "entry_price": to_tick(position.entry_value / abs(qty), spec.price_tick),
            "entry_value": position.entry_value,
            "rate": rate,
        }

    # -- emission -------------------------------------------------------------------------

    def _emit_order(self, order: Order) -> None:
        self.sink.user_event(order.user, "order", views.order_view(order))

    def _emit_balance(self, account: Account) -> None:
        if account.funded:
            self.sink.user_event(account.user, "balance", views.wallet_view(self, account))

    # -- leverage, margin mode, transfers -------------------------------------------------

    def change_leverage(self, user: str, params: Any) -> None:
        if not isinstance(params, dict):
            raise ApiError(400, "body must be a JSON object")
        account = self.account(user)
        spec = get_symbol(params.get("symbol"))
        if params.get("leverage") is None:
            raise ApiError(400, "leverage is required")
        leverage = _int_param(params.get("leverage"), "leverage")
        self._check_leverage(spec, leverage)
        cfg = account.config(spec)
        position = account.positions.get(spec.symbol)
        if position is not None and position.qty != 0:
            value = abs(position.qty) * self.markets[spec.symbol].mark
            tier = spec.tier_for(value)
            if leverage > tier.max_leverage:
                raise ApiError(
                    400,
                    f"leverage {leverage} exceeds the {tier.max_leverage}x allowed "
                    "for this position size",
                )
            new_initial = position.entry_value / leverage
            if leverage < position.leverage:
                if position.margin_mode == "isolated":
                    if position.holding_margin < new_initial:
                        raise ApiError(
                            400,
                            "insufficient isolated margin for this leverage; transfer margin first",
                        )
                else:
                    extra = new_initial - position.entry_value / position.leverage
                    if extra > self.balance(account)["cross_available"]:
                        raise ApiError(400, "insufficient available balance for this leverage")
            position.leverage = leverage
            position.updated_at = self.clock()
            self.sink.user_event(user, "position", views.position_stream_view(position))
        cfg.leverage = leverage
        for order in account.open_orders.values():
            if order.symbol == spec.symbol and order.status == "open" and not order.reduce_only:
                order.leverage = leverage
                value = order.remaining * order.price
                order.avail_locked = cut(value / leverage + value * spec.taker_fee)
        self._emit_balance(account)

    def change_margin_mode(self, user: str, params: Any) -> None:
        if not isinstance(params, dict):
            raise ApiError(400, "body must be a JSON object")
        account = self.account(user)
        spec = get_symbol(params.get("symbol"))
        mode = params.get("margin_mode")
        if mode not in MARGIN_MODES:
            raise ApiError(400, "margin_mode must be cross or isolated")
        cfg = account.config(spec)
        if mode == cfg.margin_mode:
            return
        position = account.positions.get(spec.symbol)
        if position is not None and position.qty != 0:
            raise ApiError(400, "cannot change margin mode with an open position")
        if any(o.symbol == spec.symbol for o in account.open_orders.values()):
            raise ApiError(400, "cannot change margin mode with open orders")
        cfg.margin_mode = mode
        if position is not None:
            position.margin_mode = mode

    def transfer_margin(self, user: str, params: Any) -> None:
        if not isinstance(params, dict):
            raise ApiError(400, "body must be a JSON object")
        account = self.account(user)
        spec = get_symbol(params.get("symbol"))
        amount = parse_decimal(params.get("amount_in"), "amount_in")
        direction = str(params.get("direction") or "").lower()
        if direction in ("out", "withdraw", "remove", "decrease", "reduce", "sub"):
            amount = -abs(amount)
        if amount == 0:
            raise ApiError(400, "amount_in must not be zero")
        position = account.positions.get(spec.symbol)
        if position is None or position.qty == 0:
            raise ApiError(400, f"no open position on {spec.symbol}")
        if position.margin_mode != "isolated":
            raise ApiError(400, "transfer_margin is only allowed for isolated positions")
        if amount > 0:
            if amount > self.balance(account)["cross_available"]:
                raise ApiError(400, "insufficient available balance")
        elif position.holding_margin + amount < position.entry_value / position.leverage:
            raise ApiError(400, "withdrawal would leave less than the initial margin")
        position.holding_margin += amount
        position.updated_at = self.clock()
        self._change(account, "transfer_margin", spec.symbol, ZERO, -amount, amount, position.id)
        self.sink.user_event(user, "position", views.position_stream_view(position))
        self._emit_balance(account)

    # -- funding --------------------------------------------------------------------------

    def settle_funding(
        self, symbol: str | None = None, rate: Decimal | None = None
    ) -> list[dict[str, Any]]:
        """Book one funding interval now: payment = -sign * |qty| * mark * rate (longs pay > 0)."""
        specs = [get_symbol(symbol)] if symbol else list(SYMBOLS.values())
        now = self.clock()
        records = []
        for spec in specs:
            market = self.markets[spec.symbol]
            used = market.current_funding_rate() if rate is None else rate
            records.append(market.add_funding_record(used, market.index, market.mark, now))
            for user in list(self.holders):
                account = self.accounts[user]
                position = account.positions.get(spec.symbol)
                if position is None or position.qty == 0:
                    continue
                payment = cut(
                    -margin.side_sign(position.qty) * abs(position.qty) * market.mark * used
                )
                entry_id = next(self._funding_ids)
                stamp = iso(now)
                account.funding.append(
                    {
                        "id": entry_id,
                        "user": user,
                        "asset": "DUSD",
                        "symbol": spec.symbol,
                        "qty": fmt(payment),
                        "txn_type": "funding",
                        "transact_time": stamp,
                        "created_at": stamp,
                        "updated_at": stamp,
                        "_time": now,
                    }
                )
                if position.margin_mode == "isolated":
                    position.holding_margin += payment
                    self._change(account, "funding", spec.symbol, payment, ZERO, payment, entry_id)
                else:
                    self._change(account, "funding", spec.symbol, payment, payment, ZERO, entry_id)
                self._emit_balance(account)
        self.check_liquidations()
        return records

    # -- liquidation ----------------------------------------------------------------------

    def check_liquidations(self) -> None:
        for user in list(self.holders):
            account = self.accounts[user]
            for position in list(account.positions.values()):
                if position.qty == 0 or position.margin_mode != "isolated":
                    continue
                f = self.position_figures(account, position)
                mmr = f["mmr"]
                if mmr is not None and mmr <= 1:
                    self._liquidate(account, [position], isolated=True)
            bucket = self.bucket(account)
            if bucket.maint > 0 and bucket.equity <= bucket.maint:
                cross = [
                    p for p in account.positions.values() if p.qty != 0 and p.margin_mode == "cross"
                ]
                self._liquidate(account, cross, isolated=False)

    def _liquidate(self, account: Account, positions: list[Position], *, isolated: bool) -> None:
        before = account.cross_balance
        for position in positions:
            spec = SYMBOLS[position.symbol]
            market = self.markets[position.symbol]
            for order in list(account.open_orders.values()):
                if order.symbol == position.symbol:
                    self._close_order(account, order, "canceled", "canceled by liquidation")
            now = self.clock()
            qty = abs(position.qty)
            liq_id = next(self._liq_ids)
            order = Order(
                id=next(self._order_ids),
                user=account.user,
                symbol=position.symbol,
                side="sell" if position.qty > 0 else "buy",
                order_type="market",
                qty=qty,
                price=market.mark,
                time_in_force="ioc",
                reduce_only=True,
                cl_ord_id=f"liq-{liq_id}",
                leverage=position.leverage,
                margin_mode=position.margin_mode,
                position_id=position.id,
                created_at=now,
                updated_at=now,
                source="liquidation",
                remark="liquidation",
            )
            order.liq_id = liq_id
            account.orders[order.id] = order
            account.cl_index[order.cl_ord_id] = order.id
            self._fill(
                account, spec, order, market.mark, qty, maker=False, taker_buy=order.side == "buy"
            )
            order.status = "filled"
            self._emit_order(order)
            if isolated and account.cross_balance < before:
                shortfall = before - account.cross_balance
                self._change(
                    account, "insurance_fund", position.symbol, shortfall, shortfall, ZERO, order.id
                )
        if not isolated and account.cross_balance < 0:
            shortfall = -account.cross_balance
            self._change(account, "insurance_fund", None, shortfall, shortfall, ZERO, 0)
        self._emit_balance(account)

    # -- queries --------------------------------------------------------------------------


def find_account_by_address(engine: Engine, address: str) -> Account | None:
    lowered = address.lower()
    for account in engine.accounts.values():
        if account.address == address or (
            account.chain == "bsc" and account.address.lower() == lowered
        ):
            return account
    return None

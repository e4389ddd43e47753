"""The exchange engine: accounts, orders, fills, positions, margin, funding and liquidation.

Everything runs on the event loop's thread and no method awaits, so every request sees and
leaves a consistent state. Rules (the simulator's answers where PerpEx documents nothing):

- Money is USDC. ``cash`` is the cross wallet: deposits, cross realized PnL, fees, cross funding.
  An isolated position holds its own ``margin``: ``quantity * price / leverage`` moves from cash
  into it on every opening fill; a reducing fill returns its share plus the realized PnL.
  Isolated funding is booked to the position's margin. The account's balance is cash plus every
  isolated margin; each ledger change records ``amount`` = the change of that balance, so the
  ledger's amounts sum to the balance.
- Margin (``margin.py``): Hyperliquid's cross and isolated rules; maintenance = half the initial
  margin at the market's max leverage. ``available`` = cross equity - cross initial margin - the
  margin reserved by resting orders. An opening order needs ``opening qty * price / leverage``
  plus the taker fee of the whole order, else 400 ``INSUFFICIENT_MARGIN``.
- One position per market. Its leverage and margin mode are taken from the order that opens it;
  an order on a market with an open position must name the same ones (or none).
- Orders: ``limit`` (``gtc`` rests, ``ioc`` cancels what cannot take now), ``market`` (fills
  completely at the best bid or ask), ``stop`` (``untriggered`` until the mark crosses
  ``stopPrice``: at or above it for a buy, at or below for a sell; then a market order, or a
  limit order when ``price`` is given). A resting limit fills completely at its own price
  (maker fee) once the mark crosses it. Reduce-only orders may only shrink the position and are
  trimmed to it at fill time (cancelled when it is gone).
- Liquidation: when a scope's margin ratio (maintenance / equity) reaches 1, every position of
  the scope is closed at the mark by a liquidation order, and its resting orders are cancelled.
  A loss beyond an isolated margin, or a negative cash after a cross liquidation, is absorbed by
  an ``insurance_fund`` credit. A ``liquidation_warning`` goes out on the positions channel when
  the ratio first reaches ``warning_ratio`` (0.8), and always before a liquidation; it is sent
  again after the ratio has been back below the threshold.
- Funding: hourly at the top of the hour (or ``POST /sim/funding``): each position pays
  ``size * mark * rate`` (longs pay a positive rate), rounded half up to USDC's 6 decimals. No
  route lists a user's funding payments (the reference has none); instead every ``/markets``
  item publishes its last settlement (``lastFundingTime``, ``lastFundingRate``,
  ``lastFundingPrice``: the mark it was paid at), so a client that polls the markets more often
  than hourly can rebuild each payment from its fills' position size. Settlements are one per
  market at a time; a second one before the next poll replaces the first.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from perpex_sim import margin
from perpex_sim.errors import ApiError, invalid, invalid_order
from perpex_sim.markets import Market, MarketSpec, new_markets, spec_for
from perpex_sim.money import USDC, ZERO, fmt, fmt_opt, parse_decimal, usdc

SIDES = ("buy", "sell")
TYPES = ("limit", "market", "stop")
TIME_IN_FORCE = ("gtc", "ioc")
MODES = ("cross", "isolated")
OPEN = ("open", "untriggered")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class Sink(Protocol):
    def position_event(self, account_id: str, data: dict[str, Any]) -> None: ...

    def public_trade(self, symbol: str, trade: dict[str, Any]) -> None: ...


class NullSink:
    def position_event(self, account_id: str, data: dict[str, Any]) -> None:
        return None

    def public_trade(self, symbol: str, trade: dict[str, Any]) -> None:
        return None


@dataclass
class Order:
    id: str
    account: str
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: str
    reduce_only: bool
    client_order_id: str | None
    leverage: int
    margin_mode: str
    created_at: datetime
    updated_at: datetime
    status: str = "open"
    filled: Decimal = ZERO
    fill_value: Decimal = ZERO
    reason: str = ""
    liquidation: bool = False

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled

    @property
    def buying(self) -> bool:
        return self.side == "buy"


@dataclass
class Position:
    symbol: str
    leverage: int
    margin_mode: str
    updated_at: datetime
    size: Decimal = ZERO  # signed: negative is short
    entry: Decimal = ZERO
    margin: Decimal = ZERO  # isolated only
    realized: Decimal = ZERO
    warned: bool = False


@dataclass
class Account:
    id: str
    created_at: datetime
    cash: Decimal = ZERO
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    client_ids: dict[str, str] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    funding: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    cross_warned: bool = False

    @property
    def balance(self) -> Decimal:
        return self.cash + sum((p.margin for p in self.positions.values()), ZERO)

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if p.size != 0]


@dataclass
class Scope:
    """One margin scope's figures now: the cross bucket or one isolated position."""

    equity: Decimal
    maintenance: Decimal
    initial: Decimal

    @property
    def ratio(self) -> Decimal | None:
        return margin.margin_ratio(self.maintenance, self.equity)


class Engine:
    def __init__(self, seed: int = 0, clock: Clock = utc_now, backfill_minutes: int = 0) -> None:
        self.clock = clock
        self.sink: Sink = NullSink()
        self.rng = random.Random(f"perpex-engine-{seed}")  # noqa: S311 - seeded simulation
        self.markets: dict[str, Market] = new_markets(seed)
        if backfill_minutes:
            for market in self.markets.values():
                market.backfill(clock(), backfill_minutes)
        self.accounts: dict[str, Account] = {}
        self.paused = False
        self.warning_ratio = Decimal("0.8")
        self.seconds = 0.0  # engine time, advanced by ticks
        self._order_ids = itertools.count(100_000_001)
        self._fill_ids = itertools.count(500_000_001)
        self._change_ids = itertools.count(1)
        self._funding_ids = itertools.count(1)
        self._public_ids = itertools.count(1)
        self.next_funding = self._next_hour(clock())

    @staticmethod
    def _next_hour(moment: datetime) -> datetime:
        return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)

    # -- accounts -------------------------------------------------------------------------------

    def create_account(self, deposit: Decimal | None) -> Account:
        account_id = f"acct-{self.rng.getrandbits(40):010x}"
        account = self.accounts[account_id] = Account(account_id, self.clock())
        if deposit is not None:
            self.deposit(account, deposit)
        return account

    def account(self, account_id: Any) -> Account:
        account = self.accounts.get(account_id) if isinstance(account_id, str) else None
        if account is None:
            raise ApiError(404, "NOT_FOUND", f"no account {str(account_id)[:40]!r}")
        return account

    def deposit(self, account: Account, amount: Decimal) -> None:
        if amount <= 0:
            raise invalid("deposit must be positive")
        self._change(account, "deposit", None, amount, amount, ZERO, "")

    def _change(
        self,
        account: Account,
        kind: str,
        symbol: str | None,
        amount: Decimal,
        cash_delta: Decimal,
        isolated_delta: Decimal,
        ref: str,
    ) -> None:
        """Apply one change of cash (and of an isolated margin) and write it to the ledger."""
        account.cash += cash_delta
        if symbol is not None and isolated_delta:
            account.positions[symbol].margin += isolated_delta
        account.changes.append(
            {
                "id": next(self._change_ids),
                "time": ms(self.clock()),
                "kind": kind,
                "symbol": symbol,
                "amount": fmt(amount),
                "cash_delta": fmt(cash_delta),
                "isolated_delta": fmt(isolated_delta),
                "balance": fmt(account.balance),
                "ref": ref,
            }
        )

    # -- figures --------------------------------------------------------------------------------

    def cross_scope(self, account: Account) -> Scope:
        equity, maint, initial = account.cash, ZERO, ZERO
        for p in account.open_positions():
            if p.margin_mode != "cross":
                continue
            spec, mark = self.markets[p.symbol].spec, self.markets[p.symbol].mark
            equity += margin.upnl(p.size, p.entry, mark)
            maint += margin.maintenance(p.size, mark, spec.maintenance_rate)
            initial += abs(p.size) * mark / p.leverage
        return Scope(equity, maint, initial)

    def isolated_scope(self, p: Position) -> Scope:
        market = self.markets[p.symbol]
        return Scope(
            p.margin + margin.upnl(p.size, p.entry, market.mark),
            margin.maintenance(p.size, market.mark, market.spec.maintenance_rate),
            p.margin,
        )

    def order_margin(self, account: Account) -> Decimal:
        return sum(
            (
                o.remaining * (o.price or ZERO) / o.leverage
                for o in account.orders.values()
                if o.status == "open" and not o.reduce_only and o.type == "limit"
            ),
            ZERO,
        )

    def available(self, account: Account) -> Decimal:
        cross = self.cross_scope(account)
        return max(ZERO, cross.equity - cross.initial - self.order_margin(account))

    def liquidation_price(self, account: Account, p: Position) -> Decimal | None:
        spec = self.markets[p.symbol].spec
        rate = spec.maintenance_rate
        if p.margin_mode == "isolated":
            price = margin.isolated_liquidation_price(p.size, p.entry, p.margin, rate)
        else:
            cross = self.cross_scope(account)
            mark = self.markets[p.symbol].mark
            price = margin.cross_liquidation_price(
                p.size, mark, cross.equity, cross.maintenance, rate
            )
        return None if price is None else price.quantize(spec.tick_size, ROUND_HALF_UP)

    # -- orders ---------------------------------------------------------------------------------

    def place(self, account: Account, params: Any) -> Order:
        """Validate (ApiError on a refusal), record, then match what can match now."""
        if not isinstance(params, dict):
            raise invalid("an order must be a JSON object")
        spec = spec_for(params.get("symbol"))
        market = self.markets[spec.symbol]
        side = params.get("side")
        if side not in SIDES:
            raise invalid_order("side must be buy or sell")
        kind = params.get("type", "limit")
        if kind not in TYPES:
            raise invalid_order("type must be limit, market or stop")
        quantity = parse_decimal(params.get("quantity"), "quantity")
        if quantity <= 0 or quantity % spec.lot_size:
            raise invalid_order(f"quantity must be a positive multiple of {fmt(spec.lot_size)}")
        price = self._price(spec, params.get("price"), "price")
        stop_price = self._price(spec, params.get("stopPrice"), "stopPrice")
        if kind == "limit" and price is None:
            raise invalid_order("a limit order needs a price")
        if kind == "stop" and stop_price is None:
            raise invalid_order("a stop order needs a stopPrice")
        if kind == "market" and price is not None:
            raise invalid_order("a market order takes no price")
        tif = params.get("timeInForce") or ("ioc" if kind == "market" else "gtc")
        if tif not in TIME_IN_FORCE:
            raise invalid_order("timeInForce must be gtc or ioc")
        reduce_only = params.get("reduceOnly", False)
        if not isinstance(reduce_only, bool):
            raise invalid_order("reduceOnly must be true or false")
        client_id = params.get("clientOrderId")
        if client_id is not None and (
            not isinstance(client_id, str) or not 0 < len(client_id) <= 64
        ):
            raise invalid_order("clientOrderId must be a string of 1 to 64 characters")
        if client_id is not None and client_id in account.client_ids:
            raise invalid_order(f"clientOrderId {client_id!r} was used before")
        position = account.positions.get(spec.symbol)
        held = position is not None and position.size != 0
        leverage, mode = self._settings(spec, params, position if held else None)
        if reduce_only:
            reducing = held and (position.size > 0) != (side == "buy")  # type: ignore[union-attr]
            if not reducing:
                raise invalid_order("a reduce-only order must shrink the open position")
        else:
            ref = price or stop_price or (market.best_ask() if side == "buy" else market.best_bid())
            size = position.size if held else ZERO  # type: ignore[union-attr]
            same_way = size == 0 or (size > 0) == (side == "buy")
            opening = quantity if same_way else max(ZERO, quantity - abs(size))
            need = opening * ref / leverage + quantity * ref * spec.taker_fee
            free = self.available(account)
            if need > free:
                raise ApiError(
                    400,
                    "INSUFFICIENT_MARGIN",
                    f"order needs {fmt(usdc(need))} USDC of margin, {fmt(usdc(free))} available",
                )
        now = self.clock()
        order = Order(
            id=str(next(self._order_ids)),
            account=account.id,
            symbol=spec.symbol,
            side=side,
            type=kind,
            quantity=quantity,
            price=price,
            stop_price=stop_price,
            time_in_force=tif,
            reduce_only=reduce_only,
            client_order_id=client_id,
            leverage=leverage,
            margin_mode=mode,
            created_at=now,
            updated_at=now,
            status="untriggered" if kind == "stop" else "open",
        )
        account.orders[order.id] = order
        if client_id is not None:
            account.client_ids[client_id] = order.id
        if kind == "stop":
            self._trigger(account, order)
        else:
            self._execute(account, order)
        self.check_liquidations(account)
        return order

    @staticmethod
    def _price(spec: MarketSpec, value: Any, name: str) -> Decimal | None:
        if value is None:
            return None
        price = parse_decimal(value, name)
        if price <= 0 or price % spec.tick_size:
            raise invalid_order(f"{name} must be a positive multiple of {fmt(spec.tick_size)}")
        return price

    @staticmethod
    def _settings(
        spec: MarketSpec, params: dict[str, Any], held: Position | None
    ) -> tuple[int, str]:
        leverage = params.get("leverage")
        mode = params.get("marginMode")
        if leverage is not None and (
            isinstance(leverage, bool)
            or not isinstance(leverage, int)
            or not 1 <= leverage <= spec.max_leverage
        ):
            raise invalid_order(f"leverage must be a whole number from 1 to {spec.max_leverage}")
        if mode is not None and mode not in MODES:
            raise invalid_order("marginMode must be cross or isolated")
        if held is None:
            return leverage or spec.default_leverage, mode or "cross"
        if leverage not in (None, held.leverage) or mode not in (None, held.margin_mode):
            raise invalid_order(
                f"the open {spec.symbol} position is {held.margin_mode} at {held.leverage}x; "
                "an order on it must use the same"
            )
        return held.leverage, held.margin_mode

    def cancel(self, account: Account, order_id: str) -> Order:
        order = account.orders.get(order_id)
        if order is None or order.status not in OPEN:
            why = "does not exist" if order is None else f"is {order.status}"
            raise ApiError(404, "ORDER_NOT_FOUND", f"order {order_id[:40]} {why}")
        self._close_order(order, "canceled")
        return order

    def _close_order(self, order: Order, status: str, reason: str = "") -> None:
        order.status, order.reason, order.updated_at = status, reason, self.clock()

    def _trigger(self, account: Account, order: Order) -> None:
        mark = self.markets[order.symbol].mark
        assert order.stop_price is not None
        if (mark >= order.stop_price) if order.buying else (mark <= order.stop_price):
            order.status = "open"
            self._execute(account, order)

    def _execute(self, account: Account, order: Order) -> None:
        """Match an open order against the book now; rest or cancel what does not match."""
        market = self.markets[order.symbol]
        best = market.best_ask() if order.buying else market.best_bid()
        takes = order.price is None or (
            order.price >= best if order.buying else order.price <= best
        )
        if takes:
            self._fill(account, order, best, maker=False)
        elif order.time_in_force == "ioc":
            self._close_order(order, "canceled", "ioc order could not take")

    def _fill(
        self,
        account: Account,
        order: Order,
        price: Decimal,
        *,
        maker: bool,
    ) -> None:
        quantity = order.remaining
        position = account.positions.get(order.symbol)
        if order.reduce_only:
            room = ZERO
            if position is not None and position.size and (position.size > 0) != order.buying:
                room = abs(position.size)
            quantity = min(quantity, room)
            if quantity <= 0:
                self._close_order(order, "canceled", "nothing left to reduce")
                return
        spec = self.markets[order.symbol].spec
        if position is None or position.size == 0:
            position = account.positions[order.symbol] = Position(
                order.symbol,
                order.leverage,
                order.margin_mode,
                self.clock(),
                realized=position.realized if position else ZERO,
            )
        fill_id = str(next(self._fill_ids))
        realized = self._apply(
            account, position, quantity if order.buying else -quantity, price, fill_id
        )
        fee = usdc(quantity * price * (spec.maker_fee if maker else spec.taker_fee))
        if fee:
            self._change(account, "fee", order.symbol, -fee, -fee, ZERO, fill_id)
        now = self.clock()
        order.filled += quantity
        order.fill_value += quantity * price
        order.updated_at = now
        if order.filled >= order.quantity or order.reduce_only:
            order.status = "filled"
        fill = {
            "id": fill_id,
            "orderId": order.id,
            "clientOrderId": order.client_order_id,
            "symbol": order.symbol,
            "side": order.side,
            "price": fmt(price),
            "quantity": fmt(quantity),
            "fee": fmt(fee),
            "feeAsset": "USDC",
            "realizedPnl": fmt(realized),
            "liquidity": "maker" if maker else "taker",
            "liquidation": order.liquidation,
            "time": ms(now),
        }
        account.fills.append(fill)
        market = self.markets[order.symbol]
        market.record(now, price, quantity)
        self.sink.public_trade(
            order.symbol,
            {
                "id": f"p{next(self._public_ids)}",
                "price": fmt(price),
                "size": fmt(quantity),
                "side": order.side,
                "time": ms(now),
            },
        )
        self.sink.position_event(
            account.id, {"event": "update", "position": self.position_view(account, position)}
        )

    def _apply(
        self, account: Account, p: Position, delta: Decimal, price: Decimal, ref: str
    ) -> Decimal:
        """Move the position by ``delta`` at ``price``; returns the realized PnL."""
        realized = ZERO
        if p.size and (p.size > 0) != (delta > 0):
            closing = min(abs(delta), abs(p.size))
            s = margin.sign(p.size)
            realized = usdc(closing * (price - p.entry) * s)
            if p.margin_mode == "isolated":
                share = (
                    p.margin if closing == abs(p.size) else usdc(p.margin * closing / abs(p.size))
                )
                self._change(account, "isolated_margin", p.symbol, ZERO, share, -share, ref)
                self._change(account, "realized_pnl", p.symbol, realized, realized, ZERO, ref)
                if share + realized < 0:  # a loss beyond the position's margin
                    cover = -(share + realized)
                    self._change(account, "insurance_fund", p.symbol, cover, cover, ZERO, ref)
            elif realized:
                self._change(account, "realized_pnl", p.symbol, realized, realized, ZERO, ref)
            p.realized += realized
            p.size += closing * -s
            if p.size == 0:
                p.entry, p.warned = ZERO, False
            delta += closing * s
        if delta:
            q = abs(p.size)
            p.entry = (q * p.entry + abs(delta) * price) / (q + abs(delta))
            p.size += delta
            if p.margin_mode == "isolated":
                moved = usdc(abs(delta) * price / p.leverage)
                self._change(account, "isolated_margin", p.symbol, ZERO, -moved, moved, ref)
        p.updated_at = self.clock()
        return realized

    # -- time -----------------------------------------------------------------------------------

    def tick(self, seconds: float = 0.5) -> None:
        """One engine step: prices, synthetic prints, resting orders, liquidations, funding."""
        self.seconds += seconds
        now = self.clock()
        for market in self.markets.values():
            market.step(self.seconds, self.paused)
            for side, price, size in market.synthetic_trades(self.paused):
                market.record(now, price, size)
                self.sink.public_trade(
                    market.spec.symbol,
                    {
                        "id": f"p{next(self._public_ids)}",
                        "price": fmt(price),
                        "size": fmt(size),
                        "side": side,
                        "time": ms(now),
                    },
                )
            market.record(now, market.mark, ZERO)
        self.after_price_change()
        if now >= self.next_funding:
            self.next_funding = self._next_hour(now)
            self.settle_funding(None, None)

    def after_price_change(self) -> None:
        for account in list(self.accounts.values()):
            for order in [o for o in account.orders.values() if o.status in OPEN]:
                if order.status == "untriggered":
                    self._trigger(account, order)
                    continue
                mark = self.markets[order.symbol].mark
                assert order.price is not None
                if (mark <= order.price) if order.buying else (mark >= order.price):
                    self._fill(account, order, order.price, maker=True)
            self.check_liquidations(account)

    def settle_funding(self, symbol: str | None, rate: Decimal | None) -> list[dict[str, Any]]:
        symbols = [spec_for(symbol).symbol] if symbol else list(self.markets)
        records = []
        now = self.clock()
        applied = {s: self.markets[s].funding_rate() if rate is None else rate for s in symbols}
        for s in symbols:
            self.markets[s].last_funding = (ms(now), applied[s], self.markets[s].mark)
        for account in self.accounts.values():
            for p in account.open_positions():
                if p.symbol not in symbols:
                    continue
                market = self.markets[p.symbol]
                payment = (-p.size * market.mark * applied[p.symbol]).quantize(USDC, ROUND_HALF_UP)
                record = {
                    "id": next(self._funding_ids),
                    "time": ms(now),
                    "symbol": p.symbol,
                    "size": fmt(p.size),
                    "markPrice": fmt(market.mark),
                    "rate": fmt(applied[p.symbol]),
                    "payment": fmt(payment),
                }
                account.funding.append(record)
                records.append({"account": account.id, **record})
                if p.margin_mode == "isolated":
                    self._change(
                        account, "funding", p.symbol, payment, ZERO, payment, str(record["id"])
                    )
                else:
                    self._change(
                        account, "funding", p.symbol, payment, payment, ZERO, str(record["id"])
                    )
            self.check_liquidations(account)
        return records

    # -- liquidation ----------------------------------------------------------------------------

    def check_liquidations(self, account: Account) -> None:
        for p in account.open_positions():
            if p.margin_mode == "isolated":
                scope = self.isolated_scope(p)
                p.warned = self._watch(account, [p], scope, p.warned)
        cross = [p for p in account.open_positions() if p.margin_mode == "cross"]
        if cross:
            account.cross_warned = self._watch(
                account, cross, self.cross_scope(account), account.cross_warned
            )
        else:
            account.cross_warned = False

    def _watch(
        self, account: Account, positions: list[Position], scope: Scope, warned: bool
    ) -> bool:
        """Warn or liquidate one scope; returns whether a warning stands for it."""
        ratio = scope.ratio
        if ratio is None or ratio < self.warning_ratio:
            return False
        if not warned:
            for p in positions:
                self._warn(account, p, ratio)
        if ratio >= 1:
            for p in positions:
                self._liquidate(account, p)
            if account.cash < 0:
                self._change(
                    account, "insurance_fund", None, -account.cash, -account.cash, ZERO, ""
                )
            return False
        return True

    def _warn(self, account: Account, p: Position, ratio: Decimal) -> None:
        liq = self.liquidation_price(account, p)
        mark = self.markets[p.symbol].mark
        shown = "over 100" if not ratio.is_finite() else f"{(ratio * 100).quantize(Decimal(1))}"
        self.sink.position_event(
            account.id,
            {
                "event": "liquidation_warning",
                "symbol": p.symbol,
                "marginMode": p.margin_mode,
                "marginRatio": fmt(ratio.quantize(Decimal("0.0001")))
                if ratio.is_finite()
                else None,
                "markPrice": fmt(mark),
                "liquidationPrice": fmt_opt(liq),
                "message": f"{p.symbol} {p.margin_mode} margin is at {shown} % of equity; "
                f"liquidation at {fmt_opt(liq) or 'the next move'}",
            },
        )

    def _liquidate(self, account: Account, p: Position) -> None:
        for order in account.orders.values():
            if order.symbol == p.symbol and order.status in OPEN:
                self._close_order(order, "canceled", "position liquidated")
        market = self.markets[p.symbol]
        now = self.clock()
        size = p.size
        order = Order(
            id=str(next(self._order_ids)),
            account=account.id,
            symbol=p.symbol,
            side="sell" if size > 0 else "buy",
            type="market",
            quantity=abs(size),
            price=None,
            stop_price=None,
            time_in_force="ioc",
            reduce_only=True,
            client_order_id=None,
            leverage=p.leverage,
            margin_mode=p.margin_mode,
            created_at=now,
            updated_at=now,
            liquidation=True,
            reason="liquidation",
        )
        account.orders[order.id] = order
        self._fill(account, order, market.mark, maker=False)
        self.sink.position_event(
            account.id,
            {
                "event": "liquidation",
                "symbol": p.symbol,
                "marginMode": p.margin_mode,
                "size": fmt(size),
                "price": fmt(market.mark),
                "orderId": order.id,
                "message": f"{p.symbol} position of {fmt(size)} liquidated at {fmt(market.mark)}",
            },
        )

    # -- views ----------------------------------------------------------------------------------

    def position_view(self, account: Account, p: Position) -> dict[str, Any]:
        market = self.markets[p.symbol]
        spec, mark = market.spec, market.mark
        scope = self.isolated_scope(p) if p.margin_mode == "isolated" else self.cross_scope(account)
        ratio = scope.ratio if p.size else None
        used = p.margin if p.margin_mode == "isolated" else abs(p.size) * mark / p.leverage
        return {
            "symbol": p.symbol,
            "side": "long" if p.size > 0 else "short" if p.size < 0 else "flat",
            "size": fmt(abs(p.size)),
            "entryPrice": fmt(p.entry.quantize(spec.tick_size / 100, ROUND_HALF_UP)),
            "markPrice": fmt(mark),
            "notional": fmt(usdc(abs(p.size) * mark)),
            "unrealizedPnl": fmt(usdc(margin.upnl(p.size, p.entry, mark))),
            "realizedPnl": fmt(p.realized),
            "leverage": p.leverage,
            "marginMode": p.margin_mode,
            "margin": fmt(usdc(used)),
            "maintenanceMargin": fmt(usdc(margin.maintenance(p.size, mark, spec.maintenance_rate))),
            "liquidationPrice": fmt_opt(self.liquidation_price(account, p)) if p.size else None,
            "marginRatio": fmt(ratio.quantize(Decimal("0.0001")))
            if ratio and ratio.is_finite()
            else None,
            "updatedAt": ms(p.updated_at),
        }

    def account_view(self, account: Account) -> dict[str, Any]:
        cross = self.cross_scope(account)
        isolated = [
            self.isolated_scope(p) for p in account.open_positions() if p.margin_mode == "isolated"
        ]
        upnl = cross.equity - account.cash + sum((s.equity - s.initial for s in isolated), ZERO)
        locked = self.order_margin(account)
        available = self.available(account)
        ratio = cross.ratio
        return {
            "accountId": account.id,
            "balances": [
                {
                    "asset": "USDC",
                    "total": fmt(usdc(account.balance)),
                    "available": fmt(usdc(available)),
                    "locked": fmt(usdc(locked)),
                }
            ],
            "margin": {
                "accountValue": fmt(usdc(account.balance + upnl)),
                "balance": fmt(usdc(account.balance)),
                "unrealizedPnl": fmt(usdc(upnl)),
                "initialMargin": fmt(
                    usdc(cross.initial + sum((s.initial for s in isolated), ZERO))
                ),
                "maintenanceMargin": fmt(
                    usdc(cross.maintenance + sum((s.maintenance for s in isolated), ZERO))
                ),
                "available": fmt(usdc(available)),
                "crossAccountValue": fmt(usdc(cross.equity)),
                "crossMaintenanceMargin": fmt(usdc(cross.maintenance)),
                "crossMarginRatio": fmt(ratio.quantize(Decimal("0.0001")))
                if ratio and ratio.is_finite()
                else None,
            },
            "positions": [self.position_view(account, p) for p in account.open_positions()],
            "time": ms(self.clock()),
        }


def order_view(order: Order) -> dict[str, Any]:
    average = order.fill_value / order.filled if order.filled else None
    return {
        "id": order.id,
        "clientOrderId": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.type,
        "quantity": fmt(order.quantity),
        "price": fmt_opt(order.price),
        "stopPrice": fmt_opt(order.stop_price),
        "timeInForce": order.time_in_force,
        "reduceOnly": order.reduce_only,
        "leverage": order.leverage,
        "marginMode": order.margin_mode,
        "status": order.status,
        "filledQuantity": fmt(order.filled),
        "averagePrice": fmt_opt(None if average is None else usdc(average)),
        "liquidation": order.liquidation,
        "reason": order.reason or None,
        "createdAt": ms(order.created_at),
        "updatedAt": ms(order.updated_at),
    }

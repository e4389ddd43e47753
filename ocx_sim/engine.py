"""The exchange: accounts and their buckets, orders against a synthetic book, portfolio margin,
hourly funding, dated-future settlement, liquidation. Single-threaded: the ASGI loop calls it.

Simplifications (documented once, here): every fill is against the synthetic book (users never
trade with each other, and size is unlimited at the best price); a taker fills whole at the
best bid or ask; a resting limit order fills whole, as maker, at its own price once the book
moves through it; ``isolated`` positions draw on the perps bucket like cross ones but are
margined alone (no offsets). Fees follow the 30-day volume tiers of ``GET /perps/fees``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ocx_sim import margin
from ocx_sim.accounts import Account, Fill, Order, Position, Settlement
from ocx_sim.clock import SimClock, next_hour
from ocx_sim.errors import ApiError, bad_request, rejected
from ocx_sim.ids import UlidFactory
from ocx_sim.ledger import BUCKETS, CHAIN, COUNTERPARTY, FEES, FUNDING, INSURANCE, Ledger
from ocx_sim.markets import Market, MarketBook
from ocx_sim.money import ZERO, parse_decimal, usdc

FEE_TIERS = (  # (min 30-day volume in USD, maker bps, taker bps)
    (Decimal(0), Decimal("2"), Decimal("5")),
    (Decimal(1_000_000), Decimal("0"), Decimal("4")),
    (Decimal(10_000_000), Decimal("-1"), Decimal("3")),
)
SIDES = ("buy", "sell")
ORDER_TYPES = ("limit", "market")
TIFS = ("gtc", "ioc", "fok")
MARGIN_MODES = ("cross", "isolated")
INSURANCE_SEED = Decimal(1_000_000)
ENTRY_EXP = Decimal("1e-8")


@dataclass
class Placed:
    order: Order
    fills: list[Fill]
    position: Position | None


@dataclass
class Preview:
    market_id: str
    side: str
    quantity: Decimal
    price: Decimal
    notional: Decimal
    margin_required: Decimal
    est_fee: Decimal
    fee_bps: Decimal
    fee_role: str
    user_30d_volume: Decimal
    available: Decimal
    approved: bool
    reason: str | None


class Engine:
    def __init__(self, seed: int, clock: SimClock, backfill_minutes: int = 24 * 60) -> None:
        self.clock = clock
        self.ids = UlidFactory(seed)
        now = clock.now()
        self.book = MarketBook(seed, now)
        self.book.backfill(now, backfill_minutes)
        self.ledger = Ledger()
        self.ledger.post(
            self.new_id(),
            now,
            "insurance_seed",
            "",
            (CHAIN, -INSURANCE_SEED),
            (INSURANCE, INSURANCE_SEED),
        )
        self.accounts: dict[str, Account] = {}
        self.by_address: dict[str, str] = {}
        self.paused = False
        self.next_funding = next_hour(now)
        self.touched: set[str] = set()
        self.on_settle: Callable[[Market], None] = lambda market: None

    # -- basics -----------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def new_id(self) -> str:
        return self.ids.new(self.now())

    def market(self, market_id: Any) -> Market:
        if not isinstance(market_id, str) or not market_id:
            raise bad_request("marketId is required")
        found = self.book.markets.get(market_id)
        if found is None:
            raise ApiError(404, "MARKET_NOT_FOUND", f"no market {market_id[:40]}")
        return found

    def mark(self, market_id: str) -> Decimal:
        return self.book.mark(self.book.markets[market_id], self.now())

    def create_account(self, address: str) -> Account:
        user_id = self.by_address.get(address.lower())
        if user_id is not None:
            return self.accounts[user_id]
        account = Account(self.new_id(), address, self.now())
        self.accounts[account.user_id] = account
        self.by_address[address.lower()] = account.user_id
        return account

    def account_by_address(self, address: str) -> Account | None:
        user_id = self.by_address.get(address.lower())
        return None if user_id is None else self.accounts[user_id]

    def bucket(self, account: Account, name: str) -> Decimal:
        return self.ledger.balance(f"{account.user_id}:{name}")

    def _post(self, kind: str, ref: str, *legs: tuple[str, Decimal]) -> None:
        legs = tuple((a, v) for a, v in legs if v != 0)
        if legs:
            self.ledger.post(self.new_id(), self.now(), kind, ref, *legs)

    def deposit(self, account: Account, amount: Decimal) -> Settlement:
        now = self.now()
        settlement = Settlement(
            self.new_id(),
            "deposit",
            amount,
            "confirmed",
            now,
            now,
            tx_hash="0x" + self.new_id().lower().rjust(64, "0"),
        )
        account.settlements[settlement.id] = settlement
        account.onchain_deposits += amount
        self._post(
            "deposit", settlement.id, (CHAIN, -amount), (f"{account.user_id}:wallet", amount)
        )
        self.touched.add(account.user_id)
        return settlement

    # -- valuation ---------------------------------------------------------------------------

    def upnl(self, position: Position) -> Decimal:
        return position.qty * (self.mark(position.market_id) - position.entry_price)

    def _exposure(self, market_id: str, qty: Decimal, price: Decimal, mode: str) -> margin.Exposure:
        base = self.book.markets[market_id].base
        group = f"isolated:{market_id}" if mode == "isolated" else ""
        return margin.Exposure(base, qty, price, group)

    def exposures(self, account: Account) -> list[margin.Exposure]:
        return [
            self._exposure(p.market_id, p.qty, self.mark(p.market_id), p.margin_mode)
            for p in account.open_positions()
        ]

    def initial_margin(
        self, account: Account, extra: Order | None = None, extra_price: Decimal | None = None
    ) -> Decimal:
        buys: list[margin.Exposure] = []
        sells: list[margin.Exposure] = []
        orders = [o for o in account.orders.values() if o.live and not o.reduce_only]
        for order in [*orders, *([extra] if extra is not None else [])]:
            price = (
                extra_price
                if order is extra and extra_price is not None
                else (order.price or order.stop_price or self.mark(order.market_id))
            )
            exposure = self._exposure(
                order.market_id, order.remaining * order.sign, price, order.margin_mode
            )
            (buys if order.side == "buy" else sells).append(exposure)
        return margin.margin_with_orders(self.exposures(account), buys, sells)

    def figures(self, account: Account) -> dict[str, Decimal]:
        balance = self.bucket(account, "perps")
        upnl = sum((self.upnl(p) for p in account.open_positions()), ZERO)
        equity = balance + upnl
        im_positions = margin.initial_margin(self.exposures(account))
        im = self.initial_margin(account)
        return {
            "balance": balance,
            "unrealizedPnl": upnl,
            "equity": equity,
            "initialMargin": im,
            "positionInitialMargin": im_positions,
            "maintenanceMargin": im_positions * margin.MM_FRACTION,
            "available": equity - im,
        }

    def liquidation_price(self, account: Account, position: Position) -> Decimal | None:
        equity = self.figures(account)["equity"]
        market = self.book.markets[position.market_id]
        group = f"isolated:{market.market_id}" if position.margin_mode == "isolated" else ""
        factor = margin.liquidation_factor(equity, self.exposures(account), market.base, group)
        if factor is None:
            return None
        return (self.mark(market.market_id) * factor).quantize(market.price_tick, ROUND_HALF_UP)

    def volume_30d(self, account: Account) -> Decimal:
        since = self.now() - timedelta(days=30)
        return sum((f.price * f.quantity for f in account.fills if f.created_at >= since), ZERO)

    def fee_bps(self, account: Account, role: str) -> Decimal:
        volume = self.volume_30d(account)
        tier = [t for t in FEE_TIERS if volume >= t[0]][-1]
        return tier[1] if role == "maker" else tier[2]

    # -- orders ------------------------------------------------------------------------------

    def parse_order(self, account: Account, body: Any) -> tuple[Order, Market]:
        """A new order from a request body, validated (400/404), not stored."""
        if not isinstance(body, dict):
            raise bad_request("body must be a JSON object")
        market = self.market(body.get("marketId"))
        side = body.get("side")
        if side not in SIDES:
            raise bad_request("side must be buy or sell")
        order_type = body.get("type", "limit")
        if order_type not in ORDER_TYPES:
            raise bad_request("type must be limit or market")
        quantity = parse_decimal(body.get("quantity"), "quantity", positive=True)
        if quantity % market.size_tick:
            raise bad_request(f"quantity must be a multiple of {market.size_tick}")
        price = None
        if order_type == "limit" or body.get("price") is not None:
            price = parse_decimal(body.get("price"), "price", positive=True)
            if price % market.price_tick:
                raise bad_request(f"price must be a multiple of {market.price_tick}")
        tif = body.get("timeInForce") or ("gtc" if order_type == "limit" else "ioc")
        if tif not in TIFS:
            raise bad_request("timeInForce must be gtc, ioc or fok")
        mode = body.get("marginMode") or "cross"
        if mode not in MARGIN_MODES:
            raise bad_request("marginMode must be isolated or cross")
        flags = {}
        for name in ("postOnly", "reduceOnly"):
            value = body.get(name, False)
            if not isinstance(value, bool):
                raise bad_request(f"{name} must be true or false")
            flags[name] = value
        client_id = body.get("clientOrderId")
        if client_id is not None and (
            not isinstance(client_id, str) or not 0 < len(client_id) <= 64
        ):
            raise bad_request("clientOrderId must be a string of 1 to 64 characters")
        prices = {}
        for name in ("stopPrice", "takeProfitPrice", "stopLossPrice"):
            raw = body.get(name)
            prices[name] = None if raw is None else parse_decimal(raw, name, positive=True)
        now = self.now()
        order = Order(
            id=self.new_id(),
            user_id=account.user_id,
            market_id=market.market_id,
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            time_in_force=tif,
            post_only=flags["postOnly"],
            reduce_only=flags["reduceOnly"],
            margin_mode=mode,
            client_order_id=client_id,
            created_at=now,
            updated_at=now,
            stop_price=prices["stopPrice"],
            take_profit_price=prices["takeProfitPrice"],
            stop_loss_price=prices["stopLossPrice"],
        )
        return order, market

    def _crosses(self, order: Order, market: Market) -> Decimal | None:
        """The taker price if ``order`` would take liquidity now, else None."""
        bid, ask = self.book.best(market, self.now())
        if order.side == "buy" and (order.price is None or order.price >= ask):
            return ask
        if order.side == "sell" and (order.price is None or order.price <= bid):
            return bid
        return None

    def _reduce_only_ok(self, account: Account, order: Order) -> bool:
        position = account.positions.get((order.market_id, order.margin_mode))
        return bool(
            position is not None
            and position.qty * order.sign < 0
            and order.quantity <= abs(position.qty)
        )

    def assess(self, account: Account, order: Order, market: Market) -> Preview:
        """What the order would need and cost, and whether the engine would take it."""
        cross = None if order.stop_price is not None else self._crosses(order, market)
        price = cross or order.price or order.stop_price or self.mark(market.market_id)
        role = "taker" if cross is not None else "maker"
        bps = self.fee_bps(account, role)
        notional = usdc(order.quantity * price)
        fee = usdc(notional * bps / 10000)
        before = self.initial_margin(account)
        required = ZERO
        if not order.reduce_only:
            required = max(ZERO, self.initial_margin(account, order, price) - before)
        available = self.figures(account)["equity"] - before
        reason = None
        if market.status != "active":
            reason = "MARKET_CLOSED: the market has expired"
        elif order.post_only and cross is not None:
            reason = "POST_ONLY_WOULD_CROSS: a post-only order would take liquidity"
        elif order.reduce_only and not self._reduce_only_ok(account, order):
            reason = "REDUCE_ONLY_WOULD_INCREASE: no opposite position of that size to reduce"
        elif required > 0 and required + max(fee, ZERO) > available:
            reason = (
                f"INSUFFICIENT_MARGIN: order requires {usdc(required)} USDC margin; "
                f"{usdc(max(available, ZERO))} available"
            )
        return Preview(
            market.market_id,
            order.side,
            order.quantity,
            price,
            notional,
            usdc(required),
            fee,
            bps,
            role,
            usdc(self.volume_30d(account)),
            usdc(available),
            reason is None,
            reason,
        )

    def preview(self, account: Account, body: Any) -> Preview:
        order, market = self.parse_order(account, body)
        return self.assess(account, order, market)

    def place(self, account: Account, body: Any, quote_id: str | None = None) -> Placed:
        order, market = self.parse_order(account, body)
        order.quote_id = quote_id
        if order.client_order_id and any(
            o.client_order_id == order.client_order_id for o in account.orders.values()
        ):
            raise ApiError(
                409,
                "DUPLICATE_CLIENT_ORDER_ID",
                f"clientOrderId {order.client_order_id} was used already",
            )
        return self.submit(account, order, market)

    def submit(self, account: Account, order: Order, market: Market) -> Placed:
        verdict = self.assess(account, order, market)
        if not verdict.approved:
            code, _, message = (verdict.reason or "REJECTED: ").partition(": ")
            raise rejected(code, message)
        account.orders[order.id] = order
        self.touched.add(account.user_id)
        if order.stop_price is not None:
            order.status = "untriggered"
            order.trigger_above = order.side == "buy"
            return Placed(order, [], account.positions.get((order.market_id, order.margin_mode)))
        return self._match_incoming(account, order, market)

    def _match_incoming(self, account: Account, order: Order, market: Market) -> Placed:
        fills: list[Fill] = []
        cross = self._crosses(order, market)
        if cross is not None:
            fills.append(self._fill(account, order, cross, "taker"))
        elif order.time_in_force in ("ioc", "fok") or order.price is None:
            order.status = "canceled"
            order.reason = f"{order.time_in_force}: no immediate match"
        position = account.positions.get((order.market_id, order.margin_mode))
        return Placed(order, fills, position)

    def _fill(self, account: Account, order: Order, price: Decimal, role: str) -> Fill:
        qty = order.remaining
        now = self.now()
        bps = self.fee_bps(account, role)
        fee = usdc(qty * price * bps / 10000)
        key = (order.market_id, order.margin_mode)
        position = account.positions.get(key)
        if position is None:
            position = Position(
                self.new_id(), account.user_id, order.market_id, order.margin_mode, now, now
            )
            account.positions[key] = position
        signed = qty * order.sign
        realized = ZERO
        if position.qty and (position.qty > 0) != (signed > 0):
            closing = min(qty, abs(position.qty))
            direction = 1 if position.qty > 0 else -1
            realized = usdc(closing * (price - position.entry_price) * direction)
            new_qty = position.qty + signed
            if new_qty and (new_qty > 0) != (position.qty > 0):
                position.entry_price = price
            position.qty = new_qty
        else:
            size = abs(position.qty)
            position.entry_price = (
                (size * position.entry_price + qty * price) / (size + qty)
            ).quantize(ENTRY_EXP)
            position.qty += signed
        position.realized_pnl += realized
        position.updated_at = now
        if position.qty == 0:
            position.status = "closed"
            account.closed_positions.append(account.positions.pop(key))
        fill = Fill(
            self.new_id(),
            account.user_id,
            order.id,
            order.client_order_id,
            order.market_id,
            order.side,
            price,
            qty,
            fee,
            role,
            realized,
            now,
        )
        account.fills.append(fill)
        perps = f"{account.user_id}:perps"
        self._post("realized_pnl", fill.id, (perps, realized), (COUNTERPARTY, -realized))
        self._post("fee", fill.id, (perps, -fee), (FEES, fee))
        self.book.markets[order.market_id].volume_24h += qty * price
        order.filled += qty
        order.filled_value += qty * price
        order.status = "filled"
        order.updated_at = now
        self.touched.add(account.user_id)
        if order.take_profit_price or order.stop_loss_price:
            self._attach_exits(account, order)
        return fill

    def _attach_exits(self, account: Account, parent: Order) -> None:
        long = parent.side == "buy"
        for price, above in ((parent.take_profit_price, long), (parent.stop_loss_price, not long)):
            if price is None:
                continue
            now = self.now()
            child = Order(
                self.new_id(),
                account.user_id,
                parent.market_id,
                "sell" if long else "buy",
                "market",
                parent.quantity,
                None,
                "ioc",
                False,
                True,
                parent.margin_mode,
                None,
                now,
                now,
                stop_price=price,
                trigger_above=above,
                status="untriggered",
            )
            account.orders[child.id] = child

    def cancel(self, account: Account, order_id: str) -> Order:
        order = account.orders.get(order_id)
        if order is None:
            raise ApiError(404, "ORDER_NOT_FOUND", f"no order {order_id[:40]}")
        if not order.live:
            raise ApiError(409, "ORDER_NOT_OPEN", f"the order is {order.status}")
        self._cancel(account, order, "canceled by user")
        return order

    def _cancel(self, account: Account, order: Order, reason: str) -> None:
        order.status = "canceled"
        order.reason = reason
        order.updated_at = self.now()
        self.touched.add(account.user_id)

    def cancel_all(self, account: Account, scope: dict[str, Any]) -> list[Order]:
        for name in ("marketId", "quoteId", "clientOrderId", "marginMode"):
            if scope.get(name) is not None and not isinstance(scope[name], str):
                raise bad_request(f"{name} must be a string")
        fields = {
            "marketId": "market_id",
            "quoteId": "quote_id",
            "clientOrderId": "client_order_id",
            "marginMode": "margin_mode",
        }
        chosen = [
            o
            for o in account.orders.values()
            if o.live
            and all(scope.get(k) is None or getattr(o, a) == scope[k] for k, a in fields.items())
        ]
        for order in chosen:
            self._cancel(account, order, "canceled by cancel-all")
        return chosen

    def close(self, account: Account, body: Any) -> Placed:
        if not isinstance(body, dict):
            raise bad_request("body must be a JSON object")
        market = self.market(body.get("marketId"))
        mode = body.get("marginMode") or "cross"
        position = account.positions.get((market.market_id, mode))
        if position is None:
            raise ApiError(404, "POSITION_NOT_FOUND", f"no {mode} position in {market.market_id}")
        qty = abs(position.qty)
        if body.get("quantity") is not None:
            qty = parse_decimal(body["quantity"], "quantity", positive=True)
            if qty > abs(position.qty):
                raise rejected("REDUCE_ONLY_WOULD_INCREASE", "quantity exceeds the position")
        order_body = {
            "marketId": market.market_id,
            "side": "sell" if position.qty > 0 else "buy",
            "quantity": format(qty, "f"),
            "type": body.get("orderType") or "market",
            "reduceOnly": True,
            "marginMode": mode,
        }
        for name in ("price", "timeInForce"):
            if body.get(name) is not None:
                order_body[name] = body[name]
        order, market = self.parse_order(account, order_body)
        return self.submit(account, order, market)

    def quote(
        self,
        account: Account,
        market_id: Any,
        quote_id: Any,
        sides: list[dict[str, Any]],
        cancel_prior: bool,
    ) -> tuple[str, list[Order], list[Placed]]:
        """Place post-only orders tagged ``quote_id``, all or none; replace that quote's (or,
        with ``cancel_prior``, the market's) earlier quotes."""
        market = self.market(market_id)
        if quote_id is not None and not isinstance(quote_id, str):
            raise bad_request("quoteId must be a string")
        quote_id = quote_id or self.new_id()
        parsed = []
        for item in sides:
            if not isinstance(item, dict):
                raise bad_request("each quote must be an object")
            body = {**item, "marketId": market.market_id, "postOnly": item.get("postOnly", True)}
            parsed.append(self.parse_order(account, body)[0])
        for order in parsed:
            verdict = self.assess(account, order, market)
            if not verdict.approved:
                code, _, message = (verdict.reason or "REJECTED: ").partition(": ")
                raise rejected(code, message)
        prior = [
            o
            for o in account.orders.values()
            if o.live
            and o.market_id == market.market_id
            and o.quote_id is not None
            and (cancel_prior or o.quote_id == quote_id)
        ]
        for order in prior:
            self._cancel(account, order, "replaced by a new quote")
        placed = []
        for order in parsed:
            order.quote_id = quote_id
            placed.append(self.submit(account, order, market))
        return quote_id, prior, placed

    # -- wallet ------------------------------------------------------------------------------

    def transferable(self, account: Account, bucket: str) -> Decimal:
        balance = self.bucket(account, bucket)
        if bucket != "perps":
            return balance
        f = self.figures(account)
        return max(ZERO, min(balance, f["equity"] - f["initialMargin"]))

    def transfer(self, account: Account, body: Any) -> None:
        if not isinstance(body, dict):
            raise bad_request("body must be a JSON object")
        src, dst = body.get("from"), body.get("to")
        if src not in BUCKETS or dst not in BUCKETS:
            raise bad_request(f"from and to must be one of {', '.join(BUCKETS)}")
        if src == dst:
            raise bad_request("from and to must be distinct buckets")
        amount = parse_decimal(body.get("amount"), "amount", positive=True)
        if amount > self.transferable(account, src):
            raise ApiError(400, "INSUFFICIENT_BALANCE", f"Insufficient {src} balance")
        self._post(
            "transfer",
            self.new_id(),
            (f"{account.user_id}:{src}", -amount),
            (f"{account.user_id}:{dst}", amount),
        )
        self.touched.add(account.user_id)

    def withdraw(self, account: Account, body: Any, ip: str) -> Settlement:
        """Answers like OCX, and the ledger flags the call: our client must never make it."""
        account.withdraw_calls.append({"time": self.now().isoformat(), "ip": ip, "body": body})
        amount = parse_decimal(
            body.get("amount") if isinstance(body, dict) else None, "amount", positive=True
        )
        if amount > self.bucket(account, "wallet"):
            raise ApiError(400, "INSUFFICIENT_BALANCE", "Insufficient wallet balance")
        now = self.now()
        settlement = Settlement(self.new_id(), "withdraw", amount, "pending", now, now)
        account.settlements[settlement.id] = settlement
        self._post(
            "withdraw", settlement.id, (f"{account.user_id}:wallet", -amount), (CHAIN, amount)
        )
        self.touched.add(account.user_id)
        return settlement

    # -- time --------------------------------------------------------------------------------

    def tick(self) -> None:
        self.book.walk(self.paused)
        self.after_price_change()

    def after_price_change(self) -> None:
        self.process_time()
        now = self.now()
        self.book.record(now)
        for account in self.accounts.values():
            self._match_resting(account)
        self.check_liquidations()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.after_price_change()

    def _match_resting(self, account: Account) -> None:
        for order in list(account.orders.values()):
            if not order.live or order.market_id not in self.book.markets:
                continue
            market = self.book.markets[order.market_id]
            if market.status != "active":
                continue
            if order.status == "untriggered":
                mark = self.book.mark(market, self.now())
                assert order.stop_price is not None
                fired = (
                    mark >= order.stop_price if order.trigger_above else mark <= order.stop_price
                )
                if fired:
                    self._trigger(account, order, market)
                continue
            bid, ask = self.book.best(market, self.now())
            assert order.price is not None
            if (order.side == "buy" and ask <= order.price) or (
                order.side == "sell" and bid >= order.price
            ):
                self._fill(account, order, order.price, "maker")

    def _trigger(self, account: Account, order: Order, market: Market) -> None:
        order.status = "open"
        order.stop_price, stop = None, order.stop_price
        verdict = self.assess(account, order, market)
        order.stop_price = stop
        if not verdict.approved:
            order.status = "canceled" if order.reduce_only else "rejected"
            order.reason = verdict.reason
            self.touched.add(account.user_id)
            return
        self._match_incoming(account, order, market)
        self.touched.add(account.user_id)

    def process_time(self) -> None:
        """Funding at each hour boundary passed and settlement of futures past expiry, in
        time order."""
        now = self.now()
        while True:
            futures = [m for m in self.book.active() if m.expiry is not None]
            expiry = min(futures, key=lambda m: m.expiry or now, default=None)
            if (
                expiry is not None
                and expiry.expiry is not None
                and expiry.expiry <= min(now, self.next_funding)
            ):
                self.settle(expiry)
                continue
            if self.next_funding > now:
                return
            for market in self.book.active():
                if market.market_type == "perp":
                    self.pay_funding(market)
                    self.book.draw_funding(market)
            self.next_funding += timedelta(hours=1)

    def pay_funding(self, market: Market, rate: Decimal | None = None) -> None:
        rate = market.funding_1h if rate is None else rate
        mark = self.book.mark(market, self.now())
        for account in self.accounts.values():
            for position in account.open_positions():
                if position.market_id != market.market_id:
                    continue
                payment = usdc(position.qty * mark * rate)
                self._post(
                    "funding",
                    market.market_id,
                    (f"{account.user_id}:perps", -payment),
                    (FUNDING, payment),
                )
                self.touched.add(account.user_id)

    def settle(self, market: Market) -> None:
        """Close every position of an expired future at its mark (the index by then)."""
        assert market.expiry is not None
        price = self.book.mark(market, market.expiry)
        market.settlement_price = price
        for account in self.accounts.values():
            for order in account.orders.values():
                if order.live and order.market_id == market.market_id:
                    self._cancel(account, order, "the market expired")
            for key, position in list(account.positions.items()):
                if position.market_id != market.market_id:
                    continue
                realized = usdc(position.qty * (price - position.entry_price))
                self._post(
                    "settlement",
                    position.id,
                    (f"{account.user_id}:perps", realized),
                    (COUNTERPARTY, -realized),
                )
                position.realized_pnl += realized
                position.qty = ZERO
                position.status = "settled"
                position.updated_at = self.now()
                account.closed_positions.append(account.positions.pop(key))
                self.touched.add(account.user_id)
        market.status = "expired"
        self.on_settle(market)
        self.book.list_future(market.base, market.expiry)

    def check_liquidations(self) -> None:
        for account in self.accounts.values():
            if not account.open_positions():
                continue
            f = self.figures(account)
            if f["equity"] < f["maintenanceMargin"]:
                self.liquidate(account)

    def liquidate(self, account: Account) -> None:
        for order in account.orders.values():
            if order.live:
                self._cancel(account, order, "liquidation")
        for position in list(account.open_positions()):
            market = self.book.markets[position.market_id]
            now = self.now()
            order = Order(
                self.new_id(),
                account.user_id,
                market.market_id,
                "sell" if position.qty > 0 else "buy",
                "market",
                abs(position.qty),
                None,
                "ioc",
                False,
                True,
                position.margin_mode,
                None,
                now,
                now,
            )
            order.reason = "liquidation"
            account.orders[order.id] = order
            self._fill(account, order, self.book.mark(market, now), "taker")
            account.closed_positions[-1].status = "liquidated"
        shortfall = self.bucket(account, "perps")
        if shortfall < 0:
            self._post(
                "insurance",
                account.user_id,
                (INSURANCE, shortfall),
                (f"{account.user_id}:perps", -shortfall),
            )
        account.liquidations += 1
        self.touched.add(account.user_id)

"""The PerpEx adapter over ``perpex/``: honest capabilities, the per-key rate budget, its errors
in the venue-neutral tree, its public market data, its accounts as normalized records, and the
"paste your API key" link.

An account's read spends PerpEx's 120 requests a minute per key where they matter. One
``GET /account`` gives the balances, the positions (with the exchange's liquidation prices) and
the margin summary, so a flat account with no open orders costs that one call while its balance
stands still, and an account with positions costs one call while nothing but the marks moved
(its cash, locked order margin and position shapes unchanged). Otherwise the open orders are
read too, and the fills since the fill cursor when something moved or a full read is due.

PerpEx has no order history and no order lookup (see ``perpex/__init__.py``): orders are the
open ones as listed, plus those the fills reveal. An order that left the open list is settled
from the fills read since it was last seen (filled when they make up its quantity, else
cancelled); one placed and cancelled between two reads without a fill is never seen.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, TypeVar

from exchange_common.ratelimit import ChainedLimiter, Limits, RedisRateLimiter
from perpex import errors as px_errors
from perpex import models as px
from perpex.keys import ApiKey
from perpex.models import Candle as PxCandle
from perpex.models import Market, OrderBook
from perpex.ratelimit import redis_limiter
from perpex.rest import DEFAULT_API_URL, DEFAULT_WS_URL, PerpExClient
from perpex.rest import OrderRequest as PxOrderRequest
from perpex.stream import PerpExStream, Reconnected, StreamError, StreamMessage
from venues import budget, errors
from venues.account import (
    AccountBalance,
    AccountFill,
    AccountOrder,
    AccountPosition,
    AccountRead,
    BucketBalance,
    Linked,
    LinkField,
    OrderRequest,
    Placed,
    ReadPlan,
    SignedCheck,
    Source,
)
from venues.base import (
    Candle,
    Capabilities,
    Endpoints,
    FeedNotice,
    FundingRatePoint,
    Instrument,
    Kind,
    Mark,
    Quote,
    RateBucket,
    RateBudget,
    RiskModel,
)

KEY = "perpex"
NAME = "PerpEx"
URL_NAMES = ("api", "ws")
USDC_DECIMALS = 6
T = TypeVar("T")

CAPABILITIES = Capabilities(
    kinds=frozenset({Kind.PERP}),
    time_in_force=frozenset({"gtc", "ioc"}),  # assumed: the reference names none
    post_only="none",
    order_types=frozenset({"limit", "market", "stop"}),
    native_preview=False,
    native_cancel_all=False,  # emulated: one DELETE per open order, inside the key's budget
    native_close=False,  # emulated: a reduce-only market order
    batch_orders_max=10,
    set_leverage=False,  # leverage travels with the order that opens a position
    set_margin_mode=False,  # likewise the margin mode
    add_isolated_margin=False,
    bucket_transfer=False,
    risk_model=RiskModel.HYBRID,  # the venue's liquidation price; MM derived where missing
    # No per-user funding route: payments are rebuilt from each market's last settlement
    # (time, rate, mark on GET /markets, polled every 30 s) and the fills' position size.
    funding_source="rebuild_from_rates",
    order_outcome="response",  # the POST answers with the order
    mark_feed="ws",
    account_events=True,  # the positions channel: updates and liquidation warnings
)
# 120 requests a minute per API key (and a 1,200/min per-IP guard, perpex/ratelimit.py). The
# limit is per key, so the sync's share is per key too: 70 % of 2/s, the rest kept for trading.
RATE_BUDGET = RateBudget(
    buckets=(RateBucket("key", 120, 2.0), RateBucket("ip", 1200, 20.0)),
    sync_per_second=1.4,
    sync_scope="key",  # across all keys the dispatcher plans the same 70 % of the IP's 20/s
)
# Chart resolutions as the pages name them (StandX's words) -> PerpEx candle intervals.
INTERVALS = {
    "1": "1m",
    "5": "5m",
    "15": "15m",
    "60": "1h",
    "240": "4h",
    "1D": "1d",
    "D": "1d",
    "1m": "1m",
    "5m": "5m",
    "15m": "15m",
    "1h": "1h",
    "4h": "4h",
    "1d": "1d",
}


def endpoints(api_url: str | None = None, ws_url: str | None = None) -> Endpoints:
    """The API origin and WebSocket URL: as given, else ``PERPEX_API_URL`` / ``PERPEX_WS_URL``,
    else the documented hosts."""
    api = api_url or os.environ.get("PERPEX_API_URL") or DEFAULT_API_URL
    ws = ws_url or os.environ.get("PERPEX_WS_URL") or DEFAULT_WS_URL
    return Endpoints({"api": api.rstrip("/"), "ws": ws})


def endpoints_for_simulator(base_url: str) -> Endpoints:
    """Both on one origin, as ``python -m perpex_sim`` serves them (the socket at ``/ws``)."""
    base = base_url.rstrip("/")
    ws = "wss" + base[5:] if base.startswith("https") else "ws" + base.removeprefix("http")
    return Endpoints({"api": base, "ws": f"{ws}/ws"})


_REJECTIONS = {
    "INSUFFICIENT_MARGIN": "not enough free margin for this order",
    "INVALID_SYMBOL": "the market is not listed",
}


def translate(exc: px_errors.PerpExError) -> errors.VenueError:
    """The client's exception in the venue-neutral tree, in plain words (already redacted)."""
    message = exc.message
    if isinstance(exc, px_errors.OrderNotFoundError):
        return errors.NotFound(
            NAME, "no open order has that id: it may have filled or been cancelled"
        )
    if isinstance(exc, px_errors.InsufficientMarginError | px_errors.InvalidSymbolError):
        return errors.Rejected(NAME, _REJECTIONS[exc.code], exc.code)
    if isinstance(exc, px_errors.AuthenticationError):
        return errors.AuthExpired(NAME, message)
    if isinstance(exc, px_errors.ForbiddenError):
        return errors.Forbidden(NAME, "the API key is read-only or may not do this")
    if isinstance(exc, px_errors.NotFoundError):
        return errors.NotFound(NAME, message)
    if isinstance(exc, px_errors.RateLimitedError):
        return errors.RateLimited(NAME, message, exc.retry_after)
    if isinstance(exc, px_errors.ServerError | px_errors.UnavailableError):
        return errors.Unavailable(NAME, message)
    if isinstance(exc, px_errors.BadResponseError):
        return errors.Unavailable(NAME, "the answer was not in the expected shape")
    if isinstance(exc, px_errors.KeyFormatError):
        return errors.BadInput(NAME, message)
    if isinstance(exc, px_errors.SubscriptionLimitError):
        return errors.Rejected(NAME, message, "SUBSCRIPTION_LIMIT")
    if isinstance(exc, px_errors.APIError):
        return errors.Rejected(NAME, message, exc.code or str(exc.status))
    return errors.Rejected(NAME, message)


@contextmanager
def translated() -> Iterator[None]:
    """Raise the client's errors as :class:`venues.errors.VenueError`."""
    try:
        yield
    except px_errors.PerpExError as exc:
        raise translate(exc) from exc


def _decimals(step: Decimal | None, fallback: int) -> int:
    """Decimal places of a tick (0.01 -> 2). A tick that is not a power of ten (0.5) keeps its
    places (1); the venue's own check is then the stricter one."""
    if step is None:
        return fallback
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else fallback


def instrument(m: Market) -> Instrument:
    return Instrument(
        symbol=m.symbol,
        kind=Kind.PERP,
        base_asset=m.base_asset,
        quote_asset=m.quote_asset,
        price_tick_decimals=_decimals(m.tick_size, 2),
        qty_tick_decimals=_decimals(m.lot_size, 4),
        quote_decimals=USDC_DECIMALS,
        min_order_qty=m.min_qty or m.lot_size or Decimal(0),
        max_order_qty=None,
        max_leverage=m.max_leverage or Decimal(1),
        maker_fee=m.maker_fee or Decimal(0),  # unpublished fees read as 0
        taker_fee=m.taker_fee or Decimal(0),
        price_cap_ratio=None,
        price_floor_ratio=None,
        enabled=m.status == "trading",
        status=m.status,
    )


def book_mark(symbol: str, book: OrderBook) -> Mark:
    """A mark from an orderbook frame: its ``markPrice``, else the mid of the best levels."""
    mark = book.mark_price
    if mark is None and book.bids and book.asks:
        mark = (book.bids[0].price + book.asks[0].price) / 2
    return Mark(symbol, mark, book.index_price, None)


def parse_mark(message: StreamMessage) -> Mark | FeedNotice:
    symbol = message.symbol or ""
    try:
        return book_mark(symbol, OrderBook.parse(message.data, symbol))
    except px_errors.BadResponseError:
        return FeedNotice("malformed", f"malformed orderbook for {symbol or 'a market'} ignored")


def run_blocking(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to its end from sync code, even inside a thread with a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


@dataclass
class PerpExPublic:
    """PerpEx's public market data: REST for markets, the WebSocket for candles."""

    client: PerpExClient
    ws_url: str
    timeout: float = 10.0
    venue: str = KEY
    _listed: list[Market] | None = None

    def __enter__(self) -> PerpExPublic:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def _call(self, fn: Callable[[], T]) -> T:
        with translated():
            return fn()

    def _markets(self) -> list[Market]:
        # One GET /markets answers every quote of a session (a market sync asks for several).
        if self._listed is None:
            self._listed = self._call(self.client.markets)
        return self._listed

    def _market(self, symbol: str) -> Market:
        for market in self._markets():
            if market.symbol == symbol:
                return market
        raise errors.NotFound(NAME, f"{symbol} is not listed")

    def instruments(self) -> list[Instrument]:
        self._listed = None  # a fresh listing each time a sync starts
        return [instrument(m) for m in self._markets()]

    def quote(self, symbol: str) -> Quote:
        m = self._market(symbol)
        return Quote(
            m.symbol, m.mark_price, m.index_price, m.last_price, m.funding_rate, m.next_funding_time
        )

    def funding_history(
        self, symbol: str, since: datetime, until: datetime
    ) -> list[FundingRatePoint]:
        """The market's last settlement, when it falls in ``[since, until]``: PerpEx publishes
        no funding history, only its latest settlement on ``GET /markets`` (an assumption, see
        ``perpex``), which the market sync reads every 30 s, more often than the hourly
        settlements come."""
        m = self._market(symbol)
        at, rate = m.last_funding_time, m.last_funding_rate
        if at is None or rate is None or not since <= at <= until:
            return []
        return [FundingRatePoint(m.symbol, at, rate, m.last_funding_price, None)]

    def mark(self, symbol: str) -> Mark:
        m = self._market(symbol)
        return Mark(m.symbol, m.mark_price, m.index_price, m.last_price)

    def candles(
        self, symbol: str, resolution: str, start: datetime, end: datetime, countback: int
    ) -> list[Candle]:
        """From the ``candles`` channel's opening snapshot (PerpEx has no REST candles)."""
        interval = INTERVALS.get(resolution)
        if interval is None:
            raise errors.Rejected(
                NAME,
                f"no {resolution} candles; one of {', '.join(sorted(set(INTERVALS.values())))}",
            )
        bars = run_blocking(lambda: self._snapshot(symbol, interval))
        chosen = [b for b in bars if start <= b.time <= end]
        return [
            Candle(b.time, b.open, b.high, b.low, b.close, b.volume) for b in chosen[-countback:]
        ]

    async def _snapshot(self, symbol: str, interval: str) -> list[PxCandle]:
        stream = PerpExStream(self.ws_url)
        stream.subscribe("candles", symbol, interval=interval)
        try:
            async with asyncio.timeout(self.timeout):
                async for event in stream.events():
                    if isinstance(event, StreamError):
                        raise translate(
                            px_errors.map_error(
                                400, event.code, event.message, endpoint="ws candles"
                            )
                        )
                    if isinstance(event, StreamMessage) and event.channel == "candles":
                        raw = event.data if isinstance(event.data, list) else [event.data]
                        with translated():
                            return [PxCandle.parse(item) for item in raw]
        except TimeoutError:
            raise errors.Unavailable(NAME, "the candles channel sent nothing in time") from None
        finally:
            await stream.close()
        raise errors.Unavailable(NAME, "the candles channel closed")


class PerpExMarkFeed:
    """Marks from the ``orderbook`` channel (depth 1), one connection per 10 symbols."""

    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        self.streams: list[PerpExStream] = []
        self._watched: set[str] = set()
        self._queue: asyncio.Queue[Mark | FeedNotice | None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def watch(self, symbol: str) -> None:
        if symbol in self._watched:
            return
        stream = next((s for s in self.streams if s.room > 0), None)
        if stream is None:
            stream = PerpExStream(self.ws_url)
            self.streams.append(stream)
            if self._queue is not None:
                self._start(stream)
        stream.subscribe("orderbook", symbol, depth=1)
        self._watched.add(symbol)

    def _start(self, stream: PerpExStream) -> None:
        self._tasks.append(asyncio.ensure_future(self._pump(stream)))

    async def _pump(self, stream: PerpExStream) -> None:
        assert self._queue is not None
        async for event in stream.events():
            if isinstance(event, Reconnected):
                self._queue.put_nowait(FeedNotice("reconnected", f"reconnected ({event.reason})"))
            elif isinstance(event, StreamError):
                self._queue.put_nowait(FeedNotice("refused", str(event)))
            elif event.channel == "orderbook":
                self._queue.put_nowait(parse_mark(event))

    async def events(self) -> AsyncIterator[Mark | FeedNotice]:
        self._queue = asyncio.Queue()
        for stream in self.streams:
            self._start(stream)
        while (item := await self._queue.get()) is not None:
            yield item

    async def close(self) -> None:
        for stream in self.streams:
            await stream.close()
        for task in self._tasks:
            task.cancel()
        if self._queue is not None:
            self._queue.put_nowait(None)


# --- the account: records -----------------------------------------------------------------

# The credential kind (accounts.models.CredentialKind) the API key is stored under.
BEARER_KIND = "perpex_bearer"
# Balance fields as the pages and the digests name them (the venue's own names in ``raw``).
BALANCE_FIELDS = (
    "accountValue",
    "balance",
    "unrealizedPnl",
    "initialMargin",
    "maintenanceMargin",
    "available",
    "locked",
    "crossAccountValue",
    "crossMaintenanceMargin",
)
# Fields that move only when something happened (fills, fees, funding, orders resting or gone);
# the rest move with every mark.
ACTIVITY_FIELDS = ("balance", "locked")
RATES_TTL_S = 600.0  # maintenance rates of the markets, kept per API origin
TRADES_PAGE = 500  # the route's largest page: the fewest requests for a backfill
LOOKUP_PAGE = 200  # recent fills searched for an order's client id


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _digest(parts: Iterable[str]) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def position_shapes(positions: Iterable[AccountPosition]) -> list[str]:
    """What changes only through trading: size, entry, mode and the margin an isolated one holds."""
    return sorted(
        f"{p.symbol}:{_num(p.qty)}:{_num(p.entry_price)}:{p.margin_mode}:"
        f"{_num(p.isolated_margin) if p.isolated_margin is not None else '-'}"
        for p in positions
    )


def balance_digest(raw: Mapping[str, str], names: Iterable[str]) -> str:
    return _digest(raw.get(n, "") for n in names)


def activity_digest(raw: Mapping[str, str], positions: Iterable[AccountPosition]) -> str:
    return _digest([*(raw.get(n, "") for n in ACTIVITY_FIELDS), *position_shapes(positions)])


def shape_digest(positions: Iterable[AccountPosition], orders: Iterable[AccountOrder]) -> str:
    return _digest([*position_shapes(positions), *sorted(o.exchange_id for o in orders)])


def position(p: px.Position, maint_rate: Decimal | None = None) -> AccountPosition:
    """Hybrid risk: the exchange's liquidation price as reported; its maintenance margin as
    given, else derived from the market's rate (our risk engine computes its own liquidation
    price from it and flags a disagreement)."""
    mark = p.mark_price
    notional = abs(p.size) * mark if mark is not None else None
    maint = p.maintenance_margin
    if maint is None and notional is not None and maint_rate is not None:
        maint = notional * maint_rate
    mode = p.margin_mode if p.margin_mode in ("cross", "isolated") else "cross"
    ratio = p.margin_ratio
    return AccountPosition(
        symbol=p.symbol,
        exchange_id=p.symbol,  # one position per market; PerpEx gives it no id
        qty=p.size,
        entry_price=p.entry_price,
        margin_mode=mode,
        mark_price=mark,
        notional=notional,
        upnl=p.unrealized_pnl,
        realized_pnl=p.realized_pnl,
        leverage=Decimal(p.leverage) if p.leverage is not None else None,
        initial_margin=p.margin,
        isolated_margin=p.margin if mode == "isolated" else None,
        maint_margin=maint,
        # PerpEx's margin ratio is maintenance / equity (liquidation at 1); ours is the inverse.
        health_reported=(1 / ratio) if ratio is not None and ratio > 0 else None,
        liq_price=p.liquidation_price,
        liq_source=Source.REPORTED,
    )


def _usdc(account: px.Account) -> px.Balance | None:
    return next(
        (b for b in account.balances if b.asset.upper() in ("USDC", "USD")),
        account.balances[0] if account.balances else None,
    )


def balance(account: px.Account, positions: list[AccountPosition]) -> AccountBalance:
    """The margin summary, normalized: ``cash`` is the wallet (``balance``: cross cash plus the
    isolated margins), the cross scope is the cross equity less the cross positions' uPnL."""
    m = account.margin
    wallet = _usdc(account)
    zero = Decimal(0)
    upnl_all = sum((p.upnl or zero for p in positions), zero)
    cash = m.balance if m.balance is not None else (wallet.total if wallet else zero)
    upnl = m.unrealized_pnl if m.unrealized_pnl is not None else upnl_all
    cross_upnl = sum((p.upnl or zero for p in positions if p.margin_mode == "cross"), zero)
    isolated = sum((p.isolated_margin or zero for p in positions), zero)
    cross_balance = m.cross_equity - cross_upnl if m.cross_equity is not None else cash - isolated
    locked = wallet.locked if wallet and wallet.locked is not None else zero
    available = m.available if m.available is not None else (wallet.available if wallet else None)
    figures = {
        "accountValue": m.equity,
        "balance": cash,
        "unrealizedPnl": upnl,
        "initialMargin": m.initial_margin,
        "maintenanceMargin": m.maintenance_margin,
        "available": available,
        "locked": locked,
        "crossAccountValue": m.cross_equity,
        "crossMaintenanceMargin": m.cross_maintenance_margin,
    }
    raw = {k: _num(v) for k, v in figures.items() if isinstance(v, Decimal)}
    return AccountBalance(
        equity=m.equity if m.equity is not None else cash + upnl,
        cash=cash,
        upnl=upnl,
        margin_used=m.initial_margin
        if m.initial_margin is not None
        else sum((p.initial_margin or zero for p in positions), zero),
        available=available,
        locked=locked,
        maint_margin=m.maintenance_margin,
        cross_balance=cross_balance,
        cross_upnl=cross_upnl,
        raw=MappingProxyType(raw),
    )


def bucket(account: px.Account) -> list[BucketBalance]:
    """One wallet: the perps margin, in USDC."""
    wallet = _usdc(account)
    if wallet is None:
        return []
    return [
        BucketBalance(
            bucket="perps",
            asset=wallet.asset.upper(),
            available=wallet.available if wallet.available is not None else wallet.total,
            locked=wallet.locked or Decimal(0),
            total=wallet.total,
            usd_value=wallet.total,
        )
    ]


def order(o: px.Order) -> AccountOrder:
    price = o.price if o.type != "stop" or o.price is not None else o.stop_price
    return AccountOrder(
        exchange_id=o.id,
        client_order_id=o.client_order_id or "",
        symbol=o.symbol,
        side=o.side,
        order_type=o.type,
        status=o.status,
        time_in_force=o.time_in_force or "",
        qty=o.quantity,
        price=price,
        fill_qty=o.filled_quantity,
        fill_avg_price=o.average_price,
        reduce_only=o.reduce_only,
        leverage=Decimal(o.leverage) if o.leverage is not None else None,
        is_liquidation=o.liquidation,
        created_at=o.created_at,
        updated_at=o.updated_at,
        reason=o.reason,
    )


def fill(f: px.Fill) -> AccountFill:
    return AccountFill(
        exchange_id=f.id,
        order_exchange_id=f.order_id or "",
        symbol=f.symbol,
        side=f.side,
        qty=f.quantity,
        price=f.price,
        value=f.quantity * f.price,
        fee=f.fee,
        fee_asset=f.fee_asset,
        realized_pnl=f.realized_pnl if f.realized_pnl is not None else Decimal(0),
        traded_at=f.time,
    )


def _average(pairs: Iterable[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal | None]:
    """(total quantity, volume-weighted price) of (quantity, price) pairs."""
    qty = value = Decimal(0)
    for q, p in pairs:
        qty += q
        value += q * p
    return qty, (value / qty if qty else None)


def order_from_fills(fills: list[px.Fill]) -> AccountOrder:
    """An order the account never showed open (a market order, a limit that filled between two
    reads, a liquidation): what its fills say. A maker fill means it rested: a limit order."""
    first, last = min(fills, key=lambda f: f.time), max(fills, key=lambda f: f.time)
    qty, avg = _average((f.quantity, f.price) for f in fills)
    maker = all(f.liquidity == "maker" for f in fills)
    liquidation = any(f.liquidation for f in fills)
    return AccountOrder(
        exchange_id=first.order_id or "",
        client_order_id=first.client_order_id or "",
        symbol=first.symbol,
        side=first.side,
        order_type="limit" if maker else "market",
        status="filled",
        time_in_force="",
        qty=qty,
        price=first.price if maker else None,
        fill_qty=qty,
        fill_avg_price=avg,
        reduce_only=liquidation,
        leverage=None,
        is_liquidation=liquidation,
        created_at=first.time,
        updated_at=last.time,
    )


def caught_up(o: AccountOrder, fills: list[px.Fill]) -> AccountOrder:
    """``o`` with the fills read after its record was taken (newer than its ``updated_at``):
    the stored order then accounts for every fill the fill cursor has passed."""
    since = o.updated_at
    later = [f for f in fills if since is None or f.time > since]
    if not later:
        return o
    known = o.fill_avg_price or o.price or Decimal(0)
    base = [(o.fill_qty, known)] if o.fill_qty else []
    qty, avg = _average([*base, *((f.quantity, f.price) for f in later)])
    return replace(o, fill_qty=qty, fill_avg_price=avg, updated_at=max(f.time for f in later))


def settled(o: AccountOrder, fills: list[px.Fill], now: datetime) -> AccountOrder:
    """A stored open order no longer listed as open: filled if its fills make up its quantity,
    else cancelled (PerpEx cannot be asked which; the time is when we noticed)."""
    done = caught_up(o, fills)
    # A reduce-only order is trimmed to the position when it fills: filled, if only in part.
    if done.fill_qty >= done.qty or (done.reduce_only and done.fill_qty > 0):
        return replace(done, status="filled")
    return replace(done, status="canceled", updated_at=now, reason="left the book")


# The fill cursor: the newest fill's time (Unix ms) and the ids of the fills at that instant,
# "1712345678901:id1,id2". Reads ask from that time on (inclusive) and drop those ids.
CURSOR_MAX = 200


def parse_cursor(cursor: str) -> tuple[int | None, frozenset[str]]:
    stamp, _, ids = cursor.partition(":")
    if not stamp.isdigit():
        return None, frozenset()
    return int(stamp), frozenset(i for i in ids.split(",") if i)


def advance_cursor(cursor: str, fills: list[px.Fill]) -> str:
    if not fills:
        return cursor
    stamp, ids = parse_cursor(cursor)
    newest = max(_ms(f.time) for f in fills)
    if stamp is not None and stamp > newest:
        return cursor
    at = {f.id for f in fills if _ms(f.time) == newest}
    if stamp == newest:
        at |= ids
    text = f"{newest}:{','.join(sorted(at))}"
    # Ids that do not fit are dropped: those fills are read again and stored once (their ids
    # are unique), at worst.
    while len(text) > CURSOR_MAX and "," in text:
        text = text.rsplit(",", 1)[0]
    return text[:CURSOR_MAX]


# --- the account: the session -------------------------------------------------------------

PATHS = {
    "place": "/api/v1/orders",
    "cancel": "/api/v1/orders/{id}",
    "cancel_many": "/api/v1/orders/{id} (one DELETE per order)",
    "add_margin": "(no PerpEx route)",
    "set_leverage": "(no PerpEx route)",
    "set_margin_mode": "(no PerpEx route)",
}
_rates: dict[str, tuple[float, dict[str, Decimal]]] = {}
_rates_lock = threading.Lock()


def planned_requests(*, full_due: bool, idle: bool) -> int:
    """The calls :meth:`PerpExAccountSession.read` is sure to make: ``GET /account`` always;
    the open orders and the first page of fills when a full read is due. Whether anything else
    is read depends on what the account says."""
    return 3 if full_due else 1


class PerpExAccountSession:
    """One PerpEx API key's account; a context manager like the client it wraps."""

    def __init__(self, client: PerpExClient) -> None:
        self._client = client

    def __enter__(self) -> PerpExAccountSession:
        self._client.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.__exit__(*exc)

    # -- reads ----------------------------------------------------------------------------------

    def _maint_rates(self, account: px.Account) -> dict[str, Decimal]:
        """The markets' maintenance rates, asked only when a position came without its
        maintenance margin (one public call, kept ten minutes per origin)."""
        if all(p.maintenance_margin is not None for p in account.positions):
            return {}
        origin = self._client.api_url
        with _rates_lock:
            cached = _rates.get(origin)
        if cached is not None and time.monotonic() - cached[0] < RATES_TTL_S:
            return cached[1]
        rates = {
            m.symbol: m.maintenance_margin_rate
            for m in self._client.markets()
            if m.maintenance_margin_rate is not None
        }
        with _rates_lock:
            _rates[origin] = (time.monotonic(), rates)
        return rates

    def _account(self) -> tuple[px.Account, list[AccountPosition], AccountBalance]:
        account = self._client.account()
        rates = self._maint_rates(account)
        positions = [position(p, rates.get(p.symbol)) for p in account.positions if p.size]
        return account, positions, balance(account, positions)

    def balance(self) -> AccountBalance:
        with translated():
            return self._account()[2]

    def positions(self) -> list[AccountPosition]:
        with translated():
            return self._account()[1]

    def _open_orders(self) -> list[px.Order]:
        # None: the venue has no open-orders route (an assumed route): nothing is listed.
        return list(self._client.open_orders() or [])

    def open_orders(self) -> list[AccountOrder]:
        with translated():
            return [order(o) for o in self._open_orders()]

    def read(self, plan: ReadPlan) -> AccountRead:
        with translated():
            return self._read(plan)

    def _read(self, plan: ReadPlan) -> AccountRead:
        account, positions, b = self._account()
        buckets = bucket(account)
        unmoved = balance_digest(b.raw, BALANCE_FIELDS) == plan.balance_digest
        if not plan.full_due and plan.idle and not positions and unmoved:
            quiet = AccountRead([], b, [], buckets=buckets, quiet=True, full=False)
            return self._finish(quiet, plan, shape=plan.shape_digest)
        activity = activity_digest(b.raw, positions)
        if not plan.full_due and positions and activity == plan.activity_digest:
            # Only the marks moved: no fill, fee, funding, new resting order or position change.
            # The open orders are as stored; the next full read lists them again.
            live = AccountRead(positions, b, [], buckets=buckets, full=False)
            return self._finish(live, plan, shape=plan.shape_digest)
        raw_open = self._open_orders()
        open_orders = [order(o) for o in raw_open]
        shape = shape_digest(positions, open_orders)
        if not plan.full_due and shape == plan.shape_digest and activity == plan.activity_digest:
            return self._finish(
                AccountRead(positions, b, open_orders, buckets=buckets, full=False), plan, shape
            )
        fills = self._fills_since(plan.fill_cursor)
        by_order: dict[str, list[px.Fill]] = {}
        for f in fills:
            by_order.setdefault(f.order_id or f"fill-{f.id}", []).append(f)
        open_ids = {o.exchange_id for o in open_orders}
        open_orders = [caught_up(o, by_order.get(o.exchange_id, [])) for o in open_orders]
        held = {o.exchange_id: o for o in plan.held_orders()}
        now = datetime.now(UTC)
        refreshed = [
            settled(o, by_order.get(i, []), now) for i, o in held.items() if i not in open_ids
        ]
        new_orders = [
            order_from_fills(group)
            for i, group in by_order.items()
            if i not in open_ids and i not in held and not i.startswith("fill-")
        ]
        read = AccountRead(
            positions,
            b,
            open_orders,
            new_orders=new_orders,
            new_fills=[fill(f) for f in fills],
            refreshed_orders=refreshed,
            buckets=buckets,
            order_cursor=plan.order_cursor,
            fill_cursor=advance_cursor(plan.fill_cursor, fills),
        )
        return self._finish(read, plan, shape)

    def _fills_since(self, cursor: str) -> list[px.Fill]:
        stamp, seen = parse_cursor(cursor)
        start = None if stamp is None else datetime.fromtimestamp(stamp / 1000, tz=UTC)
        found = self._client.iter_trades(page_size=TRADES_PAGE, start_time=start)
        fills = [f for f in found if not (_ms(f.time) == stamp and f.id in seen)]
        return sorted(fills, key=lambda f: (f.time, f.id))

    @staticmethod
    def _finish(read: AccountRead, plan: ReadPlan, shape: str) -> AccountRead:
        read.balance_digest = balance_digest(read.balance.raw, BALANCE_FIELDS)
        if read.quiet:
            read.activity_digest = plan.activity_digest
        else:
            read.activity_digest = activity_digest(read.balance.raw, read.positions)
        read.shape_digest = shape
        if not read.full:
            read.order_cursor, read.fill_cursor = plan.order_cursor, plan.fill_cursor
        return read

    # -- reads for trading ----------------------------------------------------------------------

    def order_by_client_id(self, client_order_id: str) -> AccountOrder | None:
        """No lookup route: the open orders first, then the recent fills (a filled order)."""
        with translated():
            for o in self._open_orders():
                if o.client_order_id == client_order_id:
                    return order(o)
            page = self._client.trades(limit=LOOKUP_PAGE)
        mine = [f for f in page.fills if f.client_order_id == client_order_id]
        return order_from_fills(mine) if mine else None

    # -- writes ---------------------------------------------------------------------------------

    def request_path(self, action: str) -> str:
        return PATHS[action]

    def place(self, request: OrderRequest) -> Placed:
        """POST the order; its answer is the matching engine's verdict (``order_outcome`` is
        "response"): open, untriggered or filled is accepted, cancelled or rejected is not."""
        body = order_request(request)
        with translated():
            placed = self._client.place_order(body)
        o = order(placed)
        refused = o.status in ("rejected", "canceled", "expired") and not o.fill_qty
        reason = (o.reason or f"the order was {o.status}").strip().rstrip(".")
        if refused:
            return Placed(o.exchange_id, accepted=False, reason=reason, order=o)
        return Placed(o.exchange_id, accepted=True, order=o)

    def cancel(self, order_id: str) -> str:
        order_id = order_id.strip()
        if not order_id or not order_id.isascii() or not order_id.isprintable():
            raise errors.NotFound(NAME, f"There is no order {order_id[:40]!r} on this account.")
        with translated():
            self._client.cancel_order(order_id)
        return order_id

    def cancel_many(self, order_ids: list[str]) -> str:
        """One ``DELETE`` per order: PerpEx's batch route places orders, it cannot cancel. An
        order already gone counts as cancelled; the first other refusal is raised after the
        rest were tried."""
        done: list[str] = []
        failed: errors.VenueError | None = None
        for order_id in order_ids:
            try:
                done.append(self.cancel(order_id))
            except errors.NotFound:
                continue
            except errors.VenueError as exc:
                failed = failed or exc
        if failed is not None:
            failed.message = f"{failed.message} ({len(done)} of {len(order_ids)} cancelled)"
            raise failed
        return ",".join(done)[:100]

    def add_margin(self, symbol: str, amount: Decimal) -> str:
        raise errors.unsupported(
            NAME,
            "PerpEx has no way to add margin to a position: an order with more margin is"
            " the only way",
        )

    def set_leverage(self, symbol: str, leverage: int) -> str:
        raise errors.unsupported(
            NAME,
            "PerpEx takes the leverage with the order that opens a position: choose it on"
            " the order form",
        )

    def set_margin_mode(self, symbol: str, mode: str) -> str:
        raise errors.unsupported(
            NAME,
            "PerpEx takes the margin mode with the order that opens a position: choose it"
            " on the order form",
        )


def order_request(r: OrderRequest) -> PxOrderRequest:
    """The client's order for a normalized request; what PerpEx cannot take is refused here,
    in words, before anything is sent."""
    if r.post_only:
        raise errors.unsupported(NAME, "PerpEx has no post-only orders")
    if r.tp_price is not None or r.sl_price is not None:
        raise errors.unsupported(
            NAME,
            "PerpEx takes no take-profit or stop-loss with an order: place a reduce-only"
            " stop order after it",
        )
    if r.order_type not in CAPABILITIES.order_types:
        raise errors.unsupported(NAME, f"PerpEx has no {r.order_type} orders")
    if r.time_in_force not in CAPABILITIES.time_in_force:
        raise errors.unsupported(NAME, f"PerpEx has no {r.time_in_force.upper()} time in force")
    try:
        return PxOrderRequest(
            symbol=r.symbol,
            side=r.side,
            type=r.order_type,
            quantity=r.qty,
            price=r.price if r.order_type != "market" else None,
            stop_price=r.stop_price,
            time_in_force=r.time_in_force,
            reduce_only=r.reduce_only,
            client_order_id=r.client_order_id or None,
            leverage=r.leverage,
            margin_mode=r.margin_mode,
        )
    except ValueError as exc:
        raise errors.Rejected(NAME, str(exc), "INVALID_ORDER") from None


# --- linking: paste an API key ----------------------------------------------------------

LINK_FIELDS = (
    LinkField(
        "api_key",
        "API key",
        secret=True,
        help_text="From PerpEx's dashboard → API keys: the key is a JWT (it starts with eyJ). "
        "A key with the trade permission links for trading; a read-only key links read-only.",
    ),
)


def _bearer(secrets: Mapping[str, str]) -> ApiKey:
    token = secrets.get(BEARER_KIND)
    if not token:
        raise errors.AuthExpired(NAME, "This account's API key was deleted; re-link it.")
    try:
        return ApiKey(token)
    except px_errors.KeyFormatError:
        raise errors.AuthExpired(NAME, "the stored API key is unreadable; re-link it") from None


def _pasted_key(fields: Mapping[str, str]) -> ApiKey:
    text = str(fields.get("api_key") or "").strip()
    if text[:7].lower() == "bearer ":  # copied with its header's scheme
        text = text[7:]
    text = "".join(text.split())  # a key wrapped over lines by the copy
    if not text:
        raise errors.BadInput(NAME, "Paste the API key.")
    if len(text) > 8192:
        raise errors.BadInput(NAME, "That is far too long for a PerpEx API key.")
    try:
        return ApiKey(text)
    except px_errors.KeyFormatError:
        raise errors.BadInput(
            NAME, "That is not a PerpEx API key (a JWT: three base64 parts separated by dots)."
        ) from None


def trade_permission(client: PerpExClient) -> bool:
    """Cancel an order id that cannot exist: ``ORDER_NOT_FOUND`` means the key may trade (and
    nothing changed); a refusal (403) means it is read-only. Other answers raise."""
    try:
        client.cancel_order(f"standx-portfolio-key-check-{uuid.uuid4().hex}")
    except px_errors.OrderNotFoundError:
        return True
    except px_errors.ForbiddenError:
        return False
    except px_errors.NotFoundError:
        return False  # a 404 without PerpEx's code: the route is not there for this key
    # An answer that cancelled something cannot happen for a made-up id; treat it as trading.
    return True


# --- the adapter ----------------------------------------------------------------------------

# The sync's share of a key's budget: 70 % of 2 requests a second (a burst of 60), so trading
# always has the rest of the venue's 120 a minute.
SYNC_LIMITS = Limits(
    account_capacity=60,
    account_refill_per_s=RATE_BUDGET.sync_per_second,
    account_cost=1,
    ip_capacity=1,
    ip_refill_per_s=1,
    ip_cost=0,
)


TRADE_CHECK_PATH = "DELETE /api/v1/orders/:id"  # the link's trade-permission check


class PerpExAdapter:
    key = KEY
    name = NAME
    capabilities = CAPABILITIES
    rate_budget = RATE_BUDGET
    link_fields = LINK_FIELDS

    def public(
        self, endpoints: Endpoints, *, limiter: Any = None, timeout: float = 10.0, retries: int = 3
    ) -> PerpExPublic:
        client = PerpExClient(
            api_url=endpoints["api"], rate_limiter=limiter, timeout=timeout, max_retries=retries
        )
        return PerpExPublic(client, endpoints["ws"], timeout)

    def mark_feed(self, endpoints: Endpoints) -> PerpExMarkFeed:
        return PerpExMarkFeed(endpoints["ws"])

    def shared_limiter(self, redis_client: Any, *, share: str) -> Any:
        """Every request pays the key's whole budget (120 a minute, in Redis under
        ``perpex:rl``); the sync's also pays its own share first (``perpex:rl:sync``)."""
        whole = redis_limiter(redis_client)
        if share != "sync":
            return whole
        own = RedisRateLimiter(redis_client, limits=SYNC_LIMITS, prefix="perpex:rl:sync")
        return ChainedLimiter(own, whole)

    def planned_requests(self, *, full_due: bool, idle: bool) -> int:
        return planned_requests(full_due=full_due, idle=idle)

    def _client(self, endpoints: Endpoints, key: ApiKey, limiter: Any, retries: int | None) -> Any:
        args: dict[str, Any] = {
            "api_url": endpoints["api"],
            # Unless told otherwise, spend the key's budget every process shares (trading).
            "rate_limiter": limiter if limiter is not None else budget.shared(self, "all"),
        }
        if retries is not None:
            args["max_retries"] = retries
        return PerpExClient(key, **args)

    def account(
        self,
        endpoints: Endpoints,
        secrets: Mapping[str, str],
        *,
        limiter: Any = None,
        retries: int | None = None,
    ) -> PerpExAccountSession:
        return PerpExAccountSession(self._client(endpoints, _bearer(secrets), limiter, retries))

    def link_identity(self, fields: Mapping[str, str]) -> str | None:
        try:
            return _pasted_key(fields).account_id or None
        except errors.VenueError:
            return None

    def link_pasted(
        self,
        endpoints: Endpoints,
        fields: Mapping[str, str],
        check: SignedCheck | None = None,
        *,
        limiter: Any = None,
    ) -> Linked:
        """Read access by ``GET /account``, trade permission by cancelling an order id that
        cannot exist (``check`` is told before and after); the account is named by PerpEx's own
        account id, else the key's subject."""
        key = _pasted_key(fields)
        if key.expired():
            when = key.expires_at.strftime("%Y-%m-%d %H:%M UTC") if key.expires_at else ""
            raise errors.AuthExpired(NAME, f"this API key expired on {when}")
        with self._client(endpoints, key, limiter, 1) as client, translated():
            account = client.account()
            if check is not None:
                check.sending(TRADE_CHECK_PATH, {"order_id": "a made-up order id"})
            can_trade = trade_permission(client)
        if check is not None:
            permission = "may trade" if can_trade else "is read-only"
            check.answered(True, f"The key {permission}; the made-up order id changed nothing.")
        identity = account.account_id or key.account_id or f"key-{key.fingerprint}"
        scopes = ("read", "trade") if can_trade else ("read",)
        return Linked(
            identity=identity[:100],
            label_hint=f"PerpEx {identity[:12]}",
            can_trade=can_trade,
            expires_at=key.expires_at,
            secrets=MappingProxyType({BEARER_KIND: key.token}),
            scopes=MappingProxyType({BEARER_KIND: scopes}),
            public_ids=MappingProxyType({BEARER_KIND: key.fingerprint}),
        )


ADAPTER = PerpExAdapter()

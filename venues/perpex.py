"""The PerpEx adapter over ``perpex/``: honest capabilities, the per-key rate budget, its errors
in the venue-neutral tree, and its public market data as normalized records.

Only the public side exists so far (instruments, quotes, marks, candles, the mark feed); the
account side follows when ``venues.base`` has its account-level protocol.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from perpex import errors as px_errors
from perpex.models import Candle as PxCandle
from perpex.models import Market, OrderBook
from perpex.rest import DEFAULT_API_URL, DEFAULT_WS_URL, PerpExClient
from perpex.stream import PerpExStream, Reconnected, StreamError, StreamMessage
from venues import errors
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
    funding_source="none",  # no funding history and no per-user funding route
    order_outcome="response",  # the POST answers with the order
    mark_feed="ws",
    account_events=True,  # the positions channel: updates and liquidation warnings
)
# 120 requests a minute per API key (and a 1,200/min per-IP guard, perpex/ratelimit.py). The
# limit is per key, so the sync's share is per key too: 70 % of 2/s, the rest kept for trading.
RATE_BUDGET = RateBudget(
    buckets=(RateBucket("key", 120, 2.0), RateBucket("ip", 1200, 20.0)),
    sync_per_second=1.4,
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

    def __enter__(self) -> PerpExPublic:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def _call(self, fn: Callable[[], T]) -> T:
        with translated():
            return fn()

    def _market(self, symbol: str) -> Market:
        for market in self._call(self.client.markets):
            if market.symbol == symbol:
                return market
        raise errors.NotFound(NAME, f"{symbol} is not listed")

    def instruments(self) -> list[Instrument]:
        return [instrument(m) for m in self._call(self.client.markets)]

    def quote(self, symbol: str) -> Quote:
        m = self._market(symbol)
        return Quote(
            m.symbol, m.mark_price, m.index_price, m.last_price, m.funding_rate, m.next_funding_time
        )

    def funding_history(
        self, symbol: str, since: datetime, until: datetime
    ) -> list[FundingRatePoint]:
        """Always empty: PerpEx publishes no funding history (``funding_source`` is "none"); the
        current hourly rate comes with :meth:`quote`."""
        self._market(symbol)
        return []

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


class PerpExAdapter:
    key = KEY
    name = NAME
    capabilities = CAPABILITIES
    rate_budget = RATE_BUDGET

    def public(
        self, endpoints: Endpoints, *, limiter: Any = None, timeout: float = 10.0, retries: int = 3
    ) -> PerpExPublic:
        client = PerpExClient(
            api_url=endpoints["api"], rate_limiter=limiter, timeout=timeout, max_retries=retries
        )
        return PerpExPublic(client, endpoints["ws"], timeout)

    def mark_feed(self, endpoints: Endpoints) -> PerpExMarkFeed:
        return PerpExMarkFeed(endpoints["ws"])


ADAPTER = PerpExAdapter()

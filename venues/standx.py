"""The StandX adapter over ``standx/``: its capabilities, its rate budget, its errors in the
venue-neutral tree, and its public market data as normalized records."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from standx import errors as sx_errors
from standx import models as sx
from standx.rest import Endpoints as StandXEndpoints
from standx.rest import StandXClient
from standx.stream import MarketStream, Reconnected, StreamError, StreamMessage
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

KEY = "standx"
NAME = "StandX"
URL_NAMES = ("perps", "auth", "ws", "ws_api")
T = TypeVar("T")

CAPABILITIES = Capabilities(
    kinds=frozenset({Kind.PERP}),
    time_in_force=frozenset({"gtc", "ioc", "alo"}),
    post_only="tif_alo",
    order_types=frozenset({"limit", "market"}),
    native_preview=False,
    native_cancel_all=False,  # emulated: list open orders, cancel them by id
    native_close=False,  # emulated: a reduce-only market order
    batch_orders_max=0,
    set_leverage=True,
    set_margin_mode=True,
    add_isolated_margin=True,
    bucket_transfer=False,
    risk_model=RiskModel.COMPUTED,
    funding_source="rebuild_from_rates",  # no per-user funding endpoint
    order_outcome="ws_session",
    mark_feed="ws",
    account_events=True,
)
# 50 requests per second per IP; per account 900 credits refilled at 1,000/s, 45 a request
# (standx/ratelimit.py). The sync plans 45/s and leaves the rest to trading and the pages.
RATE_BUDGET = RateBudget(
    buckets=(RateBucket("ip", 50, 50.0), RateBucket("account", 20, 1000 / 45)),
    sync_per_second=45.0,
)


def endpoints(perps_url: str, auth_url: str, ws_url: str, ws_api_url: str) -> Endpoints:
    return Endpoints(dict(zip(URL_NAMES, (perps_url, auth_url, ws_url, ws_api_url), strict=True)))


def endpoints_for_simulator(base_url: str) -> Endpoints:
    """All four on one origin, as ``python -m standx_sim`` serves them."""
    e = StandXEndpoints.for_simulator(base_url)
    return endpoints(e.perps_url, e.auth_url, e.ws_url, e.ws_api_url)


def client_endpoints(ep: Endpoints) -> StandXEndpoints:
    return StandXEndpoints(*(ep[name] for name in URL_NAMES))


def translate(exc: sx_errors.StandXError) -> errors.VenueError:
    """The client's exception in the venue-neutral tree (its message is already redacted)."""
    message = getattr(exc, "message", "") or ""
    if isinstance(exc, sx_errors.AuthenticationError):
        return errors.AuthExpired(NAME, message)
    if isinstance(exc, sx_errors.ForbiddenError):
        return errors.Forbidden(NAME, message)
    if isinstance(exc, sx_errors.NotFoundError):
        return errors.NotFound(NAME, message)
    if isinstance(exc, sx_errors.RateLimitedError):
        return errors.RateLimited(NAME, message, exc.retry_after)
    if isinstance(exc, sx_errors.ServerError | sx_errors.UnavailableError):
        return errors.Unavailable(NAME, message)
    if isinstance(exc, sx_errors.BadResponseError):
        return errors.Unavailable(NAME, "the answer was not in the documented shape")
    if isinstance(exc, sx_errors.KeyFormatError):
        return errors.BadInput(NAME, message)
    if isinstance(exc, sx_errors.APIError):
        return errors.Rejected(NAME, message, str(exc.status))
    return errors.Rejected(NAME, message)


@contextmanager
def translated() -> Iterator[None]:
    """Raise the client's errors as :class:`venues.errors.VenueError`."""
    try:
        yield
    except sx_errors.StandXError as exc:
        raise translate(exc) from exc


def _instrument(info: sx.SymbolInfo) -> Instrument:
    return Instrument(
        symbol=info.symbol,
        kind=Kind.PERP,
        base_asset=info.base_asset,
        quote_asset=info.quote_asset,
        price_tick_decimals=info.price_tick_decimals,
        qty_tick_decimals=info.qty_tick_decimals,
        quote_decimals=info.quote_decimals,
        min_order_qty=info.min_order_qty,
        max_order_qty=info.max_order_qty,
        max_leverage=info.max_leverage,
        maker_fee=info.maker_fee,
        taker_fee=info.taker_fee,
        price_cap_ratio=info.price_cap_ratio,
        price_floor_ratio=info.price_floor_ratio,
        enabled=info.enabled,
        status=info.status,
    )


@dataclass
class StandXPublic:
    """StandX's public market data through one client (no credentials)."""

    client: StandXClient
    venue: str = KEY

    def __enter__(self) -> StandXPublic:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def _call(self, fn: Callable[[], T]) -> T:
        with translated():
            return fn()

    def instruments(self) -> list[Instrument]:
        return [_instrument(i) for i in self._call(self.client.query_symbol_info)]

    def quote(self, symbol: str) -> Quote:
        m = self._call(lambda: self.client.query_symbol_market(symbol=symbol))
        return Quote(
            symbol=m.symbol,
            mark_price=m.mark_price,
            index_price=m.index_price,
            last_price=m.last_price,
            funding_rate=m.funding_rate,
            next_funding_time=m.next_funding_time,
        )

    def funding_history(
        self, symbol: str, since: datetime, until: datetime
    ) -> list[FundingRatePoint]:
        rates = self._call(
            lambda: self.client.query_funding_rates(symbol=symbol, start_time=since, end_time=until)
        )
        return [
            FundingRatePoint(r.symbol, r.time, r.funding_rate, r.mark_price, r.index_price)
            for r in rates
        ]

    def candles(
        self, symbol: str, resolution: str, start: datetime, end: datetime, countback: int
    ) -> list[Candle]:
        bars = self._call(
            lambda: self.client.kline_history(
                symbol=symbol, resolution=resolution, start=start, end=end, countback=countback
            )
        )
        return [Candle(c.time, c.open, c.high, c.low, c.close, c.volume) for c in bars]

    def mark(self, symbol: str) -> Mark:
        p = self._call(lambda: self.client.query_symbol_price(symbol=symbol))
        return Mark(p.symbol, p.mark_price, p.index_price, p.last_price)


def parse_mark(data: object) -> Mark | FeedNotice:
    """A ``price`` channel message as a :class:`Mark` (or why it is not one)."""
    if not isinstance(data, dict) or not isinstance(data.get("symbol"), str):
        return FeedNotice("malformed", "a price message without a symbol")
    symbol = data["symbol"]
    try:
        return Mark(
            symbol,
            sx.opt_dec(data.get("mark_price"), "mark_price"),
            sx.opt_dec(data.get("index_price"), "index_price"),
            sx.opt_dec(data.get("last_price"), "last_price"),
        )
    except sx_errors.BadResponseError:
        return FeedNotice("malformed", f"malformed price for {symbol} ignored")


class StandXMarkFeed:
    """StandX's public ``price`` channel (one WebSocket; ``standx.stream`` reconnects it)."""

    def __init__(self, ws_url: str) -> None:
        self.stream = MarketStream(ws_url)

    def watch(self, symbol: str) -> None:
        self.stream.subscribe("price", symbol)

    async def events(self) -> AsyncIterator[Mark | FeedNotice]:
        async for event in self.stream.events():
            if isinstance(event, Reconnected):
                yield FeedNotice("reconnected", f"reconnected ({event.reason})")
            elif isinstance(event, StreamError):
                # E.g. a symbol StandX no longer lists: the other subscriptions carry on.
                yield FeedNotice("refused", str(event))
            elif isinstance(event, StreamMessage) and event.channel == "price":
                yield parse_mark(event.data)

    async def close(self) -> None:
        await self.stream.close()


class StandXAdapter:
    key = KEY
    name = NAME
    capabilities = CAPABILITIES
    rate_budget = RATE_BUDGET

    def public(
        self,
        endpoints: Endpoints,
        *,
        limiter: Any = None,
        timeout: float = 10.0,
        retries: int = 3,
    ) -> StandXPublic:
        client = StandXClient(
            endpoints=client_endpoints(endpoints),
            rate_limiter=limiter,
            timeout=timeout,
            max_retries=retries,
        )
        return StandXPublic(client)

    def mark_feed(self, endpoints: Endpoints) -> StandXMarkFeed:
        return StandXMarkFeed(endpoints["ws"])


ADAPTER = StandXAdapter()

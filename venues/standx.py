"""The StandX adapter over ``standx/``: its capabilities, its rate budget, its errors in the
venue-neutral tree, its public market data and its accounts as normalized records.

An account's read is tiered to spend StandX's 50 requests per second per IP where they matter: a
flat account with no open orders costs one balance call while its balance stands still; an
account with positions costs three calls, plus its trade and order history only when something
moved (a position's shape, the open orders, or a balance field that moves only with activity)
or when the sync says a full read is due.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import websockets
from websockets.asyncio.client import ClientConnection, connect

from exchange_common.ratelimit import RedisRateLimiter
from standx import auth as sx_auth
from standx import errors as sx_errors
from standx import keys as sx_keys
from standx import models as sx
from standx.rest import Credentials, StandXClient
from standx.rest import Endpoints as StandXEndpoints
from standx.stream import (
    USER_CHANNELS,
    MarketStream,
    OrderResponse,
    OrderResponseStream,
    Reconnected,
    SeqGap,
    StreamError,
    StreamMessage,
)
from venues import errors
from venues.account import (
    AccountBalance,
    AccountFill,
    AccountOrder,
    AccountPosition,
    AccountRead,
    Linked,
    LinkField,
    OrderRequest,
    Placed,
    ReadPlan,
    SignedCheck,
    Source,
    WalletChallenge,
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
from venues.events import (
    AccountEvent,
    BalanceChanged,
    FillReceived,
    OrderChanged,
    PositionChanged,
    StreamBreak,
)

KEY = "standx"
NAME = "StandX"
URL_NAMES = ("perps", "auth", "ws", "ws_api")
T = TypeVar("T")
logger = logging.getLogger(__name__)

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


# --- the account: the tiered read --------------------------------------------------------

# The credential kinds (accounts.models.CredentialKind) the secrets arrive under.
TOKEN_KIND = "standx_token"  # noqa: S105 - a kind's name, not a secret
SIGNING_KEY_KIND = "standx_signing_key"
# Balance fields that move only when something happened (fills, fees, funding, orders placed);
# uPnL-derived fields move with every mark.
ACTIVITY_FIELDS = ("cross_balance", "isolated_balance", "locked", "cross_margin", "pnl_freeze")
ORDER_REFRESH_LIMIT = 50  # formerly open orders looked up per read, at most


def planned_requests(*, full_due: bool, idle: bool) -> int:
    """The REST calls :meth:`StandXAccountSession.read` is sure to make: the balance alone for a
    flat account on the quiet path; positions, balance and open orders otherwise; plus the first
    page of orders and of trades when a full read is due. Later pages and order lookups depend
    on what those say, so they are not counted."""
    if full_due:
        return 5
    return 1 if idle else 3


def _digest(parts: Iterable[str]) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")


def balance_digest(raw: Mapping[str, str], names: Iterable[str]) -> str:
    return _digest(raw[n] for n in names)


def shape_digest(positions: list[AccountPosition], open_orders: list[AccountOrder]) -> str:
    """What changes only through trading: each position's size, entry and mode; open order ids."""
    shapes = sorted(
        f"{p.symbol}:{_num(p.qty)}:{_num(p.entry_price)}:{p.margin_mode}" for p in positions
    )
    return _digest([*shapes, *sorted(o.exchange_id for o in open_orders)])


def balance(b: sx.Balance) -> AccountBalance:
    """StandX's unified balance: ``balance`` is the cash, ``equity`` includes uPnL."""
    raw = {name: _num(getattr(b, name)) for name in sx.BALANCE_FIELDS}
    return AccountBalance(
        equity=b.equity,
        cash=b.balance,
        upnl=b.upnl,
        margin_used=b.cross_margin + b.isolated_balance,
        available=b.cross_available,
        locked=b.locked,
        realized_24h=b.pnl_freeze,
        cross_balance=b.cross_balance,
        cross_upnl=b.cross_upnl,
        raw=raw,
    )


def position(p: sx.Position) -> AccountPosition:
    # StandX gives each position's maintenance margin; the liquidation price we compute from it
    # (portfolio.domain.risk) is cross-checked against the one StandX reports.
    return AccountPosition(
        symbol=p.symbol,
        exchange_id=str(p.id),
        qty=p.qty,
        entry_price=p.entry_price,
        margin_mode=p.margin_mode,
        mark_price=p.mark_price,
        notional=p.position_value,
        upnl=p.upnl,
        realized_pnl=p.realized_pnl,
        leverage=p.leverage,
        initial_margin=p.initial_margin,
        isolated_margin=p.holding_margin,
        maint_margin=p.maint_margin,
        health_reported=p.mmr,
        liq_price=p.liq_price,
        liq_source=Source.REPORTED,
        bankruptcy_price=p.bankruptcy_price,
        opened_at=p.created_at,
    )


def order(o: sx.Order) -> AccountOrder:
    return AccountOrder(
        exchange_id=str(o.id),
        client_order_id=o.cl_ord_id or "",
        symbol=o.symbol,
        side=o.side,
        order_type=o.order_type,
        status=o.status,
        time_in_force=o.time_in_force or "",
        qty=o.qty,
        price=o.price,
        fill_qty=o.fill_qty,
        fill_avg_price=o.fill_avg_price,
        reduce_only=o.reduce_only,
        leverage=o.leverage,
        is_liquidation=bool(o.liq_id),
        created_at=o.created_at,
        updated_at=o.updated_at,
        reason=o.remark or "",
    )


def fill(t: sx.Trade) -> AccountFill:
    return AccountFill(
        exchange_id=str(t.id),
        order_exchange_id=str(t.order_id),
        symbol=t.symbol,
        side=t.side,
        qty=t.qty,
        price=t.price,
        value=t.value,
        fee=t.fee_qty,
        fee_asset=t.fee_asset or "",
        realized_pnl=t.pnl,
        traded_at=t.created_at,
    )


def _take_newer(items: Iterable[T], cursor: str) -> list[T]:
    """Items from a newest-first iterator until the stored cursor (the highest id stored: StandX
    ids grow) is reached."""
    stop = int(cursor) if cursor else None
    out = []
    for item in items:
        if stop is not None and item.id <= stop:  # type: ignore[attr-defined]
            break
        out.append(item)
    return out


def _advance(cursor: str, ids: list[int]) -> str:
    return str(max(int(cursor or 0), *ids)) if ids else cursor


class StandXAccountSession:
    """One StandX account's private data; a context manager like the client it wraps."""

    def __init__(self, client: StandXClient, endpoints: Endpoints) -> None:
        self._client = client
        self._endpoints = endpoints

    def __enter__(self) -> StandXAccountSession:
        self._client.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.__exit__(*exc)

    def balance(self) -> AccountBalance:
        with translated():
            return balance(self._client.query_balance())

    def positions(self) -> list[AccountPosition]:
        with translated():
            return [position(p) for p in self._client.query_positions()]

    def read(self, plan: ReadPlan) -> AccountRead:
        with translated():
            return self._read(plan)

    def _read(self, plan: ReadPlan) -> AccountRead:
        client = self._client
        raw_balance = None
        if not plan.full_due and plan.idle:
            raw_balance = client.query_balance()
            b = balance(raw_balance)
            if balance_digest(b.raw, sx.BALANCE_FIELDS) == plan.balance_digest:
                return self._finish(AccountRead([], b, [], quiet=True, full=False), plan)
        positions = [position(p) for p in client.query_positions()]
        b = balance(raw_balance or client.query_balance())
        open_orders = [order(o) for o in client.query_open_orders(limit=1200).result]
        moved = (
            plan.full_due
            or shape_digest(positions, open_orders) != plan.shape_digest
            or balance_digest(b.raw, ACTIVITY_FIELDS) != plan.activity_digest
        )
        if not moved:
            return self._finish(AccountRead(positions, b, open_orders, full=False), plan)
        new_orders = _take_newer(client.iter_orders(), plan.order_cursor)
        new_trades = _take_newer(client.iter_trades(), plan.fill_cursor)
        read = AccountRead(
            positions,
            b,
            open_orders,
            new_orders=[order(o) for o in new_orders],
            new_fills=[fill(t) for t in new_trades],
            order_cursor=_advance(plan.order_cursor, [o.id for o in new_orders]),
            fill_cursor=_advance(plan.fill_cursor, [t.id for t in new_trades]),
        )
        # Orders held as open that StandX no longer lists as open have ended: learn how.
        seen = {o.exchange_id for o in read.open_orders} | {o.exchange_id for o in read.new_orders}
        gone = [i for i in plan.held_open_orders() if i not in seen and i.isdigit()]
        for exchange_id in gone[:ORDER_REFRESH_LIMIT]:
            try:
                read.refreshed_orders.append(order(client.query_order(order_id=int(exchange_id))))
            except sx_errors.NotFoundError:
                continue
        return self._finish(read, plan)

    # -- reads for trading --------------------------------------------------------------------

    def open_orders(self) -> list[AccountOrder]:
        with translated():
            return [order(o) for o in self._client.query_open_orders().result]

    def order_by_client_id(self, client_order_id: str) -> AccountOrder | None:
        try:
            found = self._client.query_order(cl_ord_id=client_order_id)
        except sx_errors.NotFoundError:
            return None
        except sx_errors.StandXError as exc:
            raise translate(exc) from exc
        return order(found)

    # -- writes -------------------------------------------------------------------------------

    def request_path(self, action: str) -> str:
        return PATHS[action]

    def place(self, request: OrderRequest) -> Placed:
        """Sign and POST the order; the order response stream gives the matching engine's verdict
        when it can be opened (never from inside a running event loop: no nested loop there)."""
        body = order_body(request)
        with translated():
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                ack, verdict = asyncio.run(
                    _post_on_session(self._client, self._endpoints["ws_api"], body)
                )
            else:
                ack, verdict = self._client.new_order(**body), None
        if verdict is None:
            return Placed(ack.request_id or "")
        reason = verdict.message.strip().rstrip(".") if not verdict.ok else ""
        return Placed(ack.request_id or "", accepted=verdict.ok, reason=reason or "")

    def _action(self, call: Callable[[StandXClient], sx.ActionResult]) -> str:
        with translated():
            return call(self._client).request_id or ""

    def cancel(self, order_id: str) -> str:
        if not order_id.isascii() or not order_id.isdigit():  # StandX's order ids are integers
            raise errors.NotFound(NAME, f"There is no order {order_id[:40]!r} on this account.")
        return self._action(lambda c: c.cancel_order(order_id=int(order_id)))

    def cancel_many(self, order_ids: list[str]) -> str:
        ids = [int(i) for i in order_ids if i.isascii() and i.isdigit()]
        return self._action(lambda c: c.cancel_orders(order_ids=ids))

    def add_margin(self, symbol: str, amount: Decimal) -> str:
        return self._action(lambda c: c.transfer_margin(symbol=symbol, amount_in=amount))

    def set_leverage(self, symbol: str, leverage: int) -> str:
        return self._action(lambda c: c.change_leverage(symbol=symbol, leverage=leverage))

    def set_margin_mode(self, symbol: str, mode: str) -> str:
        return self._action(lambda c: c.change_margin_mode(symbol=symbol, margin_mode=mode))

    @staticmethod
    def _finish(read: AccountRead, plan: ReadPlan) -> AccountRead:
        read.balance_digest = balance_digest(read.balance.raw, sx.BALANCE_FIELDS)
        if read.quiet:
            read.activity_digest, read.shape_digest = plan.activity_digest, plan.shape_digest
        else:
            read.activity_digest = balance_digest(read.balance.raw, ACTIVITY_FIELDS)
            read.shape_digest = shape_digest(read.positions, read.open_orders)
        if not read.full:
            read.order_cursor, read.fill_cursor = plan.order_cursor, plan.fill_cursor
        return read


# --- the account: its stream ------------------------------------------------------------


def account_event(message: StreamMessage) -> AccountEvent | None:
    """One frame of the authenticated stream, normalized (None: not an account change).

    ``order`` and ``trade`` carry the same records as ``query_order`` and ``query_trades``;
    ``position`` carries the shape without the figures that move with the mark; ``balance`` is
    the raw wallet record (``total`` cash, ``occupied`` by positions, ``locked`` by orders).
    Raises ``BadResponseError`` for a frame that does not parse.
    """
    data = message.data
    if message.channel == "order":
        o = sx.Order.parse(data)
        return OrderChanged(order(o), o.updated_at or o.created_at)
    if message.channel == "trade":
        t = sx.Trade.parse(data)
        return FillReceived(fill(t), t.created_at)
    if message.channel == "position":
        p = sx.Position.parse(data)
        return PositionChanged(
            symbol=p.symbol,
            exchange_id=str(p.id),
            qty=p.qty,
            entry_price=p.entry_price,
            margin_mode=p.margin_mode,
            leverage=p.leverage,
            initial_margin=p.initial_margin,
            realized_pnl=p.realized_pnl,
            opened_at=p.created_at,
            at=p.updated_at,
        )
    if message.channel == "balance":
        if not isinstance(data, dict):
            raise sx_errors.BadResponseError("a balance frame that is not an object")
        return BalanceChanged(
            cash=sx.dec(data.get("total"), "total"),
            locked=sx.dec(data.get("locked"), "locked"),
            margin_used=sx.dec(data.get("occupied"), "occupied"),
            free=sx.dec(data.get("free"), "free"),
            at=sx.parse_time(data["updated_at"]) if data.get("updated_at") else None,
        )
    return None


def _user_stream_connector(ping_every: float) -> Callable[[str], Any]:
    async def open_connection(url: str) -> ClientConnection:
        # Our own pings find a silent connection within seconds (StandX pings every 10 s).
        return await connect(
            url,
            ping_interval=ping_every,
            ping_timeout=ping_every,
            open_timeout=10,
            max_size=2**22,
        )

    return open_connection


class StandXAccountStream:
    """One account's ``order``/``position``/``balance``/``trade`` streams on ``/ws-stream/v1``
    (``standx.stream`` reconnects, re-authenticates before the token's expiry and StandX's 24 h
    limit, and numbers gaps over the whole connection)."""

    def __init__(
        self, ws_url: str, secrets: Callable[[], Mapping[str, str]], ping_every: float
    ) -> None:
        def current() -> Credentials:
            with translated():
                return credentials(secrets())

        self.stream = MarketStream(
            ws_url,
            user_channels=USER_CHANNELS,
            # Quiet accounts send nothing for hours: silence is found by our pings instead.
            stale_after=24 * 3600.0,
            connector=_user_stream_connector(ping_every),
            seq_scope="connection",
            announce_connect=True,
            credentials_source=current,
        )

    @property
    def connected(self) -> bool:
        return self.stream.connected

    async def events(self) -> AsyncIterator[AccountEvent]:
        with translated():
            async for item in self.stream.events():
                if isinstance(item, Reconnected):
                    yield StreamBreak(f"connected ({item.reason})")
                elif isinstance(item, SeqGap):
                    yield StreamBreak(f"frames lost (seq {item.expected} to {item.got})")
                elif isinstance(item, StreamError):
                    logger.warning("account stream: %s", item)
                else:
                    try:
                        event = account_event(item)
                    except sx_errors.BadResponseError as exc:
                        yield StreamBreak(f"a malformed {item.channel} frame ({exc})")
                        continue
                    if event is not None:
                        yield event

    async def close(self) -> None:
        await self.stream.close()


# --- the account: writes ---------------------------------------------------------------------

STREAM_WAIT_S = 3.0  # how long an order waits for the order stream's verdict
STREAM_CONNECT_S = 2.0  # at most this long opening and logging in before the order goes anyway
PATHS = {
    "place": "/api/new_order",
    "cancel": "/api/cancel_order",
    "cancel_many": "/api/cancel_orders",
    "add_margin": "/api/transfer_margin",
    "set_leverage": "/api/change_leverage",
    "set_margin_mode": "/api/change_margin_mode",
}


def order_body(request: OrderRequest) -> dict[str, Any]:
    """StandX's ``new_order`` body for a normalized request (post-only is the ALO time in force)."""
    body: dict[str, Any] = {
        "symbol": request.symbol,
        "side": request.side,
        "order_type": request.order_type,
        "qty": str(request.qty),
        "time_in_force": "alo" if request.post_only else request.time_in_force,
        "reduce_only": request.reduce_only,
        "cl_ord_id": request.client_order_id,
    }
    optional = {
        "price": request.price,
        "tp_price": request.tp_price,
        "sl_price": request.sl_price,
        "leverage": request.leverage,
        "margin_mode": request.margin_mode,
    }
    body.update({k: str(v) if isinstance(v, Decimal) else v for k, v in optional.items() if v})
    return body


async def _connect_briefly(url: str) -> ClientConnection:
    return await connect(url, open_timeout=STREAM_WAIT_S, ping_interval=None, max_size=2**20)


async def _verdict(stream: OrderResponseStream, request_id: str | None) -> OrderResponse | None:
    """The session's final answer about this request (interim "accepted" pushes are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_WAIT_S
    while (remaining := deadline - loop.time()) > 0:
        try:
            pushed = await stream.next_pushed(remaining)
        except TimeoutError:
            return None
        if pushed.status == "accepted":
            continue
        # The session is this order's alone; a push naming another request is not its verdict.
        if pushed.request_id is None or request_id is None or pushed.request_id == request_id:
            return pushed
    return None


async def _post_on_session(
    client: StandXClient, ws_api_url: str, body: dict[str, Any]
) -> tuple[sx.ActionResult, OrderResponse | None]:
    """Open a ws-api session, POST the order with its ``x-session-id``, await the verdict.

    A session that cannot be opened is not an error: the order goes without ``x-session-id``
    and its outcome is read back by ``query_order``.
    """
    assert client.credentials is not None
    client.session_id = str(uuid.uuid4())
    stream = OrderResponseStream(
        ws_api_url,
        client.credentials,
        session_id=client.session_id,
        connector=_connect_briefly,
        timeout=STREAM_WAIT_S,
    )
    try:
        async with asyncio.timeout(STREAM_CONNECT_S):
            await stream.connect()
        listening = True
    except (sx_errors.StandXError, OSError, TimeoutError, websockets.WebSocketException) as e:
        logger.info("order stream unavailable (%s); falling back to query_order", type(e).__name__)
        await stream.close()
        listening, client.session_id = False, None
    try:
        # The signed POST is sync httpx; a thread keeps the stream's reader running meanwhile.
        ack = await asyncio.to_thread(lambda: client.new_order(**body))
        verdict = await _verdict(stream, ack.request_id) if listening else None
    finally:
        await stream.close()
        client.session_id = None
    return ack, verdict


def credentials(secrets: Mapping[str, str]) -> Credentials:
    """The client's credentials from the stored secrets (by credential kind)."""
    token = secrets.get(TOKEN_KIND)
    if not token:
        raise errors.AuthExpired(NAME, "This account's credentials were deleted; re-link it.")
    return Credentials.from_strings(token, secrets.get(SIGNING_KEY_KIND))


# --- linking -------------------------------------------------------------------------------

LINK_FIELDS = (
    LinkField(
        "token",
        "API token",
        secret=True,
        help_text="From standx.com → Session Management: the token starting with eyJ.",
    ),
    LinkField(
        "signing_key",
        "Request-signing key",
        secret=True,
        required=False,
        help_text="The key shown next to the token; leave empty to link read-only.",
    ),
)
KEY_CHECK_PATH = "/api/cancel_order"
CHAINS = ("bsc", "solana")


def link_words(exc: sx_errors.StandXError) -> errors.VenueError:
    """A refusal while linking, in the words the linking pages show."""
    if isinstance(exc, sx_errors.TokenExpiredError):
        text = "StandX says this token has expired. Create a new one on StandX's session page."
    elif isinstance(exc, sx_errors.AuthenticationError):
        text = "StandX did not accept this token. Check that you copied all of it."
    elif isinstance(exc, sx_errors.InvalidSignatureError):
        text = (
            "The signing key does not belong to this token: StandX rejected its signature. "
            "Paste the key shown next to the token on StandX's session page."
        )
    elif isinstance(exc, sx_errors.SignatureExpiredError):
        text = "StandX rejected the request time; check this server's clock."
    elif isinstance(exc, sx_errors.RateLimitedError):
        return errors.RateLimited(
            NAME, "StandX is rate-limiting us right now; try again in a minute."
        )
    elif isinstance(exc, sx_errors.UnavailableError | sx_errors.ServerError):
        return errors.Unavailable(NAME, "StandX could not be reached just now; try again shortly.")
    elif isinstance(exc, sx_errors.LoginError):
        text = exc.message
    else:
        text = f"StandX refused: {exc.message}"
    return errors.BadInput(NAME, text)


def token_identity(creds: Credentials) -> tuple[str, str]:
    """The wallet address and chain named by the token (``bsc_0x…`` style or a plain address)."""
    claims = sx_keys.jwt_claims(creds.token)
    raw = str(claims.get("address") or claims.get("sub") or claims.get("user") or "")
    chain = str(claims.get("chain") or "")
    if "_" in raw and raw.split("_", 1)[0] in CHAINS:
        chain, raw = raw.split("_", 1)
    if not chain:
        chain = "bsc" if raw.startswith("0x") else "solana"
    if not raw:
        # A token that names no wallet: key the link by its public key so it stays unique.
        raw = creds.public_key or "unknown"
    return raw, chain


def _linked(creds: Credentials, identity: str, chain: str) -> Linked:
    secrets = {TOKEN_KIND: creds.token}
    scopes: dict[str, tuple[str, ...]] = {TOKEN_KIND: ("read",)}
    public_ids: dict[str, str] = {}
    if creds.signing_key is not None:
        secrets[SIGNING_KEY_KIND] = sx_keys.seed_base58(creds.signing_key)
        scopes[SIGNING_KEY_KIND] = ("trade",)
        public_ids[SIGNING_KEY_KIND] = creds.public_key or ""
    return Linked(
        identity=identity,
        label_hint=f"StandX {identity[:8]}",
        can_trade=creds.signing_key is not None,
        expires_at=creds.expires_at,
        secrets=secrets,
        scopes=scopes,
        public_ids=public_ids,
        chain=chain,
    )


def _verify(creds: Credentials, endpoints: Endpoints, check: SignedCheck | None) -> None:
    """A balance query proves the token; a signed no-op proves the key.

    The signed check cancels an order id that cannot exist: StandX verifies the signature before
    it looks the order up, so "not found" proves the key and changes nothing.
    """
    with StandXClient(creds, endpoints=client_endpoints(endpoints), max_retries=1) as client:
        try:
            client.query_balance()
        except sx_errors.StandXError as exc:
            raise link_words(exc) from exc
        if not creds.can_sign:
            return
        cl_ord_id = f"standx-portfolio-key-check-{uuid.uuid4().hex}"
        if check is not None:
            check.sending(KEY_CHECK_PATH, {"cl_ord_id": cl_ord_id})
        try:
            client.cancel_order(cl_ord_id=cl_ord_id)
        except (sx_errors.NotFoundError, sx_errors.BadRequestError):
            pass  # the expected answer: signature accepted, no such order
        except sx_errors.StandXError as exc:
            refused = link_words(exc)
            if check is not None:
                check.answered(False, f"Key check failed: {refused.message}")
            raise refused from exc
        if check is not None:
            check.answered(True, "Signature accepted; the made-up order id changed nothing.")


def token_format_problem(token: str) -> str | None:
    """Why the pasted text is not a StandX API token, or None (before anything is sent)."""
    try:
        sx_keys.jwt_claims(token)
    except sx_errors.KeyFormatError:
        return "That is not a StandX API token (a JWT: three parts separated by dots)."
    try:
        sx_keys.token_expiry(token)
    except sx_errors.KeyFormatError as exc:
        return f"That is not a StandX API token: {exc}"
    return None


def signing_key_format_problem(key: str) -> str | None:
    """Why the pasted text is not a request-signing key, or None."""
    try:
        sx_keys.parse_signing_key(key)
    except sx_errors.KeyFormatError as exc:
        return str(exc)
    return None


def link_pasted(
    endpoints: Endpoints, fields: Mapping[str, str], check: SignedCheck | None = None
) -> Linked:
    """Link from a pasted API token (and optional signing key), verified against StandX."""
    try:
        creds = Credentials.from_strings(fields.get("token", ""), fields.get("signing_key") or None)
    except sx_errors.KeyFormatError as exc:
        raise errors.BadInput(NAME, str(exc)) from None
    if creds.expires_at is not None and creds.expires_at <= datetime.now(UTC):
        raise errors.BadInput(NAME, "This token has already expired. Create a new one on StandX.")
    identity, chain = token_identity(creds)
    _verify(creds, endpoints, check)
    return _linked(creds, identity, chain)


def link_begin_wallet(endpoints: Endpoints, chain: str, address: str) -> WalletChallenge:
    """Ask StandX for a sign-in challenge for the wallet; the state holds its temporary key."""
    try:
        with sx_auth.AuthClient(client_endpoints(endpoints)) as auth:
            pending = sx_auth.begin_login(auth, chain=chain, address=address)
    except sx_errors.StandXError as exc:
        raise link_words(exc) from None
    return WalletChallenge(pending.address, pending.message, pending.to_state())


def link_complete_wallet(endpoints: Endpoints, state: Mapping[str, str], signature: str) -> Linked:
    """Finish the sign-in with the wallet's signature: a token and a signing key for trading."""
    pending = sx_auth.PendingLogin.from_state(dict(state))
    try:
        with sx_auth.AuthClient(client_endpoints(endpoints)) as auth:
            session = sx_auth.complete_login(auth, pending, signature)
    except sx_errors.StandXError as exc:
        raise link_words(exc) from None
    return _linked(session.credentials, pending.address, pending.chain)


class StandXAdapter:
    key = KEY
    name = NAME
    capabilities = CAPABILITIES
    rate_budget = RATE_BUDGET
    link_fields = LINK_FIELDS

    def link_pasted(
        self, endpoints: Endpoints, fields: Mapping[str, str], check: SignedCheck | None = None
    ) -> Linked:
        return link_pasted(endpoints, fields, check)

    def link_identity(self, fields: Mapping[str, str]) -> str | None:
        try:
            creds = Credentials.from_strings(fields.get("token", ""), None)
        except sx_errors.KeyFormatError:
            return None
        return token_identity(creds)[0]

    def link_begin_wallet(self, endpoints: Endpoints, chain: str, address: str) -> WalletChallenge:
        return link_begin_wallet(endpoints, chain, address)

    def link_complete_wallet(
        self, endpoints: Endpoints, state: Mapping[str, str], signature: str
    ) -> Linked:
        return link_complete_wallet(endpoints, state, signature)

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

    def account_stream(
        self,
        endpoints: Endpoints,
        secrets: Callable[[], Mapping[str, str]],
        *,
        ping_every: float,
    ) -> StandXAccountStream:
        return StandXAccountStream(endpoints["ws"], secrets, ping_every)

    def planned_requests(self, *, full_due: bool, idle: bool) -> int:
        return planned_requests(full_due=full_due, idle=idle)

    def shared_limiter(self, redis_client: Any, *, share: str) -> Any:
        """StandX's per-account and per-IP buckets (``exchange_common.ratelimit.Limits``), in
        Redis under ``standx:rl``; its sync plans its share by the request count instead."""
        return RedisRateLimiter(redis_client)

    def account(
        self,
        endpoints: Endpoints,
        secrets: Mapping[str, str],
        *,
        limiter: Any = None,
        retries: int | None = None,
    ) -> StandXAccountSession:
        args: dict[str, Any] = {"rate_limiter": limiter}
        if retries is not None:
            args["max_retries"] = retries
        with translated():
            creds = credentials(secrets)
        client = StandXClient(creds, endpoints=client_endpoints(endpoints), **args)
        return StandXAccountSession(client, endpoints)


ADAPTER = StandXAdapter()

"""Typed results: frozen dataclasses with Decimal money, parsed from the API's JSON.

Every parser takes the decoded JSON and raises :class:`BadResponseError` on a shape it cannot
read. Decimals arrive as JSON strings; numbers are accepted too (via ``str``, never ``float``
arithmetic). Unknown extra fields are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Generic, TypeVar

from standx.errors import BadResponseError

T = TypeVar("T")
ZERO = Decimal(0)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    ALO = "alo"


class MarginMode(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


class OrderStatus(StrEnum):
    OPEN = "open"
    CANCELED = "canceled"
    FILLED = "filled"
    REJECTED = "rejected"
    UNTRIGGERED = "untriggered"


SYMBOL_TRADING = "trading"  # `query_symbol_info.status` of a symbol that takes orders
RESOLUTIONS = ("1T", "3S", "1", "5", "15", "60", "1D", "1W", "1M")


# -- field readers ------------------------------------------------------------------------------


def _get(obj: dict[str, Any], key: str) -> Any:
    try:
        return obj[key]
    except KeyError:
        raise BadResponseError(f"missing field {key!r}") from None


def dec(value: Any, name: str = "value") -> Decimal:
    if isinstance(value, bool) or value is None:
        raise BadResponseError(f"{name} is not a decimal")
    try:
        result = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise BadResponseError(f"{name} is not a decimal") from None
    if not result.is_finite():
        raise BadResponseError(f"{name} is not a finite decimal")
    return result


def opt_dec(value: Any, name: str = "value") -> Decimal | None:
    return None if value is None or value == "" else dec(value, name)


def _d(obj: dict[str, Any], key: str) -> Decimal:
    return dec(_get(obj, key), key)


def _od(obj: dict[str, Any], key: str) -> Decimal | None:
    return opt_dec(obj.get(key), key)


def _i(obj: dict[str, Any], key: str) -> int:
    value = _get(obj, key)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadResponseError(f"{key} is not an integer") from None


def _oi(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadResponseError(f"{key} is not an integer") from None


def _s(obj: dict[str, Any], key: str) -> str:
    value = _get(obj, key)
    if not isinstance(value, str):
        raise BadResponseError(f"{key} is not a string")
    return value


def _os(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def parse_time(value: Any, name: str = "time") -> datetime:
    """ISO-8601 (``2025-08-11T03:35:25.559151Z``) or Unix seconds/milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    if not isinstance(value, str):
        raise BadResponseError(f"{name} is not a timestamp")
    text = value.strip().replace("Z", "+00:00")
    # Python 3.11 accepts up to 6 fractional digits; trim nanoseconds if a server sends them.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tail = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{tail}"
    try:
        result = datetime.fromisoformat(text)
    except ValueError:
        raise BadResponseError(f"{name} is not an ISO-8601 timestamp") from None
    return result if result.tzinfo else result.replace(tzinfo=UTC)


def _t(obj: dict[str, Any], key: str) -> datetime:
    return parse_time(_get(obj, key), key)


def _ot(obj: dict[str, Any], key: str) -> datetime | None:
    value = obj.get(key)
    return None if value in (None, "") else parse_time(value, key)


def _obj(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadResponseError(f"{what}: expected a JSON object")
    return data


def _list(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise BadResponseError(f"{what}: expected a JSON array")
    return data


# -- public market data -------------------------------------------------------------------------


@dataclass(frozen=True)
class SymbolInfo:
    symbol: str
    base_asset: str
    quote_asset: str
    base_decimals: int
    quote_decimals: int
    price_tick_decimals: int
    qty_tick_decimals: int
    min_order_qty: Decimal
    max_order_qty: Decimal
    max_position_size: Decimal
    max_open_orders: int
    def_leverage: Decimal
    max_leverage: Decimal
    maker_fee: Decimal
    taker_fee: Decimal
    price_cap_ratio: Decimal
    price_floor_ratio: Decimal
    depth_ticks: tuple[Decimal, ...]
    enabled: bool
    created_at: datetime | None
    updated_at: datetime | None
    # Not in the docs' example, but the live API sends it and live clients keep only "trading"
    # symbols. Absent means trading: the docs' own example symbol is listed and tradable.
    status: str = SYMBOL_TRADING

    @property
    def tradable(self) -> bool:
        """Only a listed, enabled symbol in status "trading" takes new orders."""
        return self.enabled and self.status == SYMBOL_TRADING

    @property
    def price_tick(self) -> Decimal:
        return Decimal(1).scaleb(-self.price_tick_decimals)

    @property
    def qty_tick(self) -> Decimal:
        return Decimal(1).scaleb(-self.qty_tick_decimals)

    @classmethod
    def parse(cls, data: Any) -> SymbolInfo:
        o = _obj(data, "symbol info")
        ticks = str(o.get("depth_ticks") or "")
        return cls(
            symbol=_s(o, "symbol"),
            base_asset=_s(o, "base_asset"),
            quote_asset=_s(o, "quote_asset"),
            base_decimals=_i(o, "base_decimals"),
            quote_decimals=_i(o, "quote_decimals"),
            price_tick_decimals=_i(o, "price_tick_decimals"),
            qty_tick_decimals=_i(o, "qty_tick_decimals"),
            min_order_qty=_d(o, "min_order_qty"),
            max_order_qty=_d(o, "max_order_qty"),
            max_position_size=_d(o, "max_position_size"),
            max_open_orders=_i(o, "max_open_orders"),
            def_leverage=_d(o, "def_leverage"),
            max_leverage=_d(o, "max_leverage"),
            maker_fee=_d(o, "maker_fee"),
            taker_fee=_d(o, "taker_fee"),
            price_cap_ratio=_d(o, "price_cap_ratio"),
            price_floor_ratio=_d(o, "price_floor_ratio"),
            depth_ticks=tuple(dec(t, "depth_ticks") for t in ticks.split(",") if t.strip()),
            enabled=bool(o.get("enabled", True)),
            created_at=_ot(o, "created_at"),
            updated_at=_ot(o, "updated_at"),
            status=_os(o, "status") or SYMBOL_TRADING,
        )


@dataclass(frozen=True)
class SymbolMarket:
    symbol: str
    base: str
    quote: str
    funding_rate: Decimal | None
    next_funding_time: datetime | None
    index_price: Decimal | None
    mark_price: Decimal | None
    last_price: Decimal | None
    mid_price: Decimal | None
    high_price_24h: Decimal | None
    low_price_24h: Decimal | None
    volume_24h: Decimal | None
    open_interest: Decimal | None
    spread_bid: Decimal | None
    spread_ask: Decimal | None
    time: datetime | None

    @classmethod
    def parse(cls, data: Any) -> SymbolMarket:
        o = _obj(data, "symbol market")
        spread = o.get("spread") or [None, None]
        if not isinstance(spread, list) or len(spread) != 2:
            raise BadResponseError("spread is not a [bid, ask] pair")
        return cls(
            symbol=_s(o, "symbol"),
            base=str(o.get("base", "")),
            quote=str(o.get("quote", "")),
            funding_rate=_od(o, "funding_rate"),
            next_funding_time=_ot(o, "next_funding_time"),
            index_price=_od(o, "index_price"),
            mark_price=_od(o, "mark_price"),
            last_price=_od(o, "last_price"),
            mid_price=_od(o, "mid_price"),
            high_price_24h=_od(o, "high_price_24h"),
            low_price_24h=_od(o, "low_price_24h"),
            volume_24h=_od(o, "volume_24h"),
            open_interest=_od(o, "open_interest"),
            spread_bid=opt_dec(spread[0], "spread"),
            spread_ask=opt_dec(spread[1], "spread"),
            time=_ot(o, "time"),
        )


@dataclass(frozen=True)
class SymbolPrice:
    symbol: str
    base: str
    quote: str
    index_price: Decimal | None
    mark_price: Decimal | None
    last_price: Decimal | None
    mid_price: Decimal | None
    spread_bid: Decimal | None
    spread_ask: Decimal | None
    time: datetime | None

    @classmethod
    def parse(cls, data: Any) -> SymbolPrice:
        o = _obj(data, "symbol price")
        return cls(
            symbol=_s(o, "symbol"),
            base=str(o.get("base", "")),
            quote=str(o.get("quote", "")),
            index_price=_od(o, "index_price"),
            mark_price=_od(o, "mark_price"),
            last_price=_od(o, "last_price"),
            mid_price=_od(o, "mid_price"),
            spread_bid=_od(o, "spread_bid"),
            spread_ask=_od(o, "spread_ask"),
            time=_ot(o, "time"),
        )


@dataclass(frozen=True)
class BookLevel:
    price: Decimal
    qty: Decimal


@dataclass(frozen=True)
class DepthBook:
    """Levels sorted here (the API does not guarantee an order): bids high→low, asks low→high."""

    symbol: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]

    @property
    def best_bid(self) -> BookLevel | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> BookLevel | None:
        return self.asks[0] if self.asks else None

    @classmethod
    def parse(cls, data: Any) -> DepthBook:
        o = _obj(data, "depth book")

        def levels(key: str) -> list[BookLevel]:
            out = []
            for level in _list(o.get(key) or [], key):
                if not isinstance(level, list) or len(level) < 2:
                    raise BadResponseError(f"{key}: a level is not [price, qty]")
                out.append(BookLevel(dec(level[0], key), dec(level[1], key)))
            return out

        return cls(
            symbol=_s(o, "symbol"),
            bids=tuple(sorted(levels("bids"), key=lambda lv: lv.price, reverse=True)),
            asks=tuple(sorted(levels("asks"), key=lambda lv: lv.price)),
        )


@dataclass(frozen=True)
class PublicTrade:
    symbol: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal | None
    is_buyer_taker: bool
    time: datetime

    @classmethod
    def parse(cls, data: Any) -> PublicTrade:
        o = _obj(data, "public trade")
        return cls(
            symbol=_s(o, "symbol"),
            price=_d(o, "price"),
            qty=_d(o, "qty"),
            quote_qty=_od(o, "quote_qty"),
            is_buyer_taker=bool(o.get("is_buyer_taker")),
            time=_t(o, "time"),
        )


@dataclass(frozen=True)
class FundingRate:
    id: int
    symbol: str
    funding_rate: Decimal
    index_price: Decimal | None
    mark_price: Decimal | None
    premium: Decimal | None
    time: datetime

    @classmethod
    def parse(cls, data: Any) -> FundingRate:
        o = _obj(data, "funding rate")
        return cls(
            id=_i(o, "id"),
            symbol=_s(o, "symbol"),
            funding_rate=_d(o, "funding_rate"),
            index_price=_od(o, "index_price"),
            mark_price=_od(o, "mark_price"),
            premium=_od(o, "premium"),
            time=_t(o, "time"),
        )


@dataclass(frozen=True)
class Candle:
    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def parse_klines(data: Any) -> list[Candle]:
    """TradingView-style columns ``{s, t, o, h, l, c, v}``; ``s: "no_data"`` is an empty list."""
    o = _obj(data, "kline history")
    if o.get("s") == "no_data":
        return []
    if o.get("s") not in (None, "ok"):
        raise BadResponseError(f"kline history status {o.get('s')!r}")
    columns = {k: _list(o.get(k) or [], k) for k in ("t", "o", "h", "l", "c", "v")}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise BadResponseError("kline history columns differ in length")
    return [
        Candle(
            time=parse_time(int(columns["t"][i]), "t"),
            open=dec(columns["o"][i], "o"),
            high=dec(columns["h"][i], "h"),
            low=dec(columns["l"][i], "l"),
            close=dec(columns["c"][i], "c"),
            volume=dec(columns["v"][i], "v"),
        )
        for i in range(len(columns["t"]))
    ]


# -- user data ----------------------------------------------------------------------------------


def _status(value: str) -> str:
    # The docs' enum says "open"; their examples (and live servers) say "new". Same meaning.
    return OrderStatus.OPEN.value if value == "new" else value


@dataclass(frozen=True)
class Order:
    id: int
    cl_ord_id: str | None
    symbol: str
    side: str
    order_type: str
    status: str
    time_in_force: str | None
    qty: Decimal
    price: Decimal | None
    fill_qty: Decimal
    fill_avg_price: Decimal | None
    reduce_only: bool
    leverage: Decimal | None
    margin: Decimal | None
    avail_locked: Decimal | None
    position_id: int | None
    liq_id: int
    source: str | None
    remark: str | None
    user: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status in (OrderStatus.OPEN, OrderStatus.UNTRIGGERED)

    @property
    def is_liquidation(self) -> bool:
        return self.liq_id != 0

    @classmethod
    def parse(cls, data: Any) -> Order:
        o = _obj(data, "order")
        fill_avg = _od(o, "fill_avg_price")
        return cls(
            id=_i(o, "id"),
            cl_ord_id=_os(o, "cl_ord_id") or None,
            symbol=_s(o, "symbol"),
            side=_s(o, "side"),
            order_type=_s(o, "order_type"),
            status=_status(_s(o, "status")),
            time_in_force=_os(o, "time_in_force"),
            qty=_d(o, "qty"),
            price=_od(o, "price"),
            fill_qty=_od(o, "fill_qty") or ZERO,
            # "0" means "no fill yet", not a fill at price zero.
            fill_avg_price=fill_avg if fill_avg else None,
            reduce_only=bool(o.get("reduce_only", False)),
            leverage=_od(o, "leverage"),
            margin=_od(o, "margin"),
            avail_locked=_od(o, "avail_locked"),
            position_id=_oi(o, "position_id"),
            liq_id=_oi(o, "liq_id") or 0,
            source=_os(o, "source"),
            remark=_os(o, "remark"),
            user=_os(o, "user"),
            created_at=_ot(o, "created_at"),
            updated_at=_ot(o, "updated_at"),
        )


@dataclass(frozen=True)
class Trade:
    """One of the user's fills."""

    id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    value: Decimal | None
    fee_asset: str | None
    fee_qty: Decimal
    pnl: Decimal
    user: str | None
    created_at: datetime
    updated_at: datetime | None

    @classmethod
    def parse(cls, data: Any) -> Trade:
        o = _obj(data, "trade")
        return cls(
            id=_i(o, "id"),
            order_id=_i(o, "order_id"),
            symbol=_s(o, "symbol"),
            side=_s(o, "side"),
            price=_d(o, "price"),
            qty=_d(o, "qty"),
            value=_od(o, "value"),
            fee_asset=_os(o, "fee_asset"),
            fee_qty=_od(o, "fee_qty") or ZERO,
            pnl=_od(o, "pnl") or ZERO,
            user=_os(o, "user"),
            created_at=_t(o, "created_at"),
            updated_at=_ot(o, "updated_at"),
        )


@dataclass(frozen=True)
class Position:
    """``qty`` is signed: negative is short (StandX has no side field)."""

    id: int
    symbol: str
    qty: Decimal
    entry_price: Decimal
    entry_value: Decimal | None
    mark_price: Decimal | None
    position_value: Decimal | None
    upnl: Decimal | None
    realized_pnl: Decimal | None
    leverage: Decimal | None
    margin_mode: str
    margin_asset: str | None
    initial_margin: Decimal | None
    holding_margin: Decimal | None
    maint_margin: Decimal | None
    mmr: Decimal | None
    liq_price: Decimal | None
    bankruptcy_price: Decimal | None
    status: str | None
    user: str | None
    created_at: datetime | None
    updated_at: datetime | None
    time: datetime | None

    @property
    def side(self) -> str:
        return "long" if self.qty > 0 else "short" if self.qty < 0 else "flat"

    @classmethod
    def parse(cls, data: Any) -> Position:
        o = _obj(data, "position")
        liq = _od(o, "liq_price")
        return cls(
            id=_i(o, "id"),
            symbol=_s(o, "symbol"),
            qty=_d(o, "qty"),
            entry_price=_d(o, "entry_price"),
            entry_value=_od(o, "entry_value"),
            mark_price=_od(o, "mark_price"),
            position_value=_od(o, "position_value"),
            upnl=_od(o, "upnl"),
            realized_pnl=_od(o, "realized_pnl"),
            leverage=_od(o, "leverage"),
            margin_mode=_s(o, "margin_mode"),
            margin_asset=_os(o, "margin_asset"),
            initial_margin=_od(o, "initial_margin"),
            holding_margin=_od(o, "holding_margin"),
            maint_margin=_od(o, "maint_margin"),
            mmr=_od(o, "mmr"),
            # A position that cannot be liquidated reports 0; that is "none", not price zero.
            liq_price=liq if liq else None,
            bankruptcy_price=_od(o, "bankruptcy_price"),
            status=_os(o, "status"),
            user=_os(o, "user"),
            created_at=_ot(o, "created_at"),
            updated_at=_ot(o, "updated_at"),
            time=_ot(o, "time"),
        )


@dataclass(frozen=True)
class PositionConfig:
    symbol: str
    leverage: Decimal
    margin_mode: str

    @classmethod
    def parse(cls, data: Any) -> PositionConfig:
        o = _obj(data, "position config")
        return cls(
            symbol=_s(o, "symbol"), leverage=_d(o, "leverage"), margin_mode=_s(o, "margin_mode")
        )


BALANCE_FIELDS = (
    "isolated_balance",
    "isolated_upnl",
    "cross_balance",
    "cross_margin",
    "cross_upnl",
    "locked",
    "cross_available",
    "balance",
    "upnl",
    "equity",
    "pnl_freeze",
)


@dataclass(frozen=True)
class Balance:
    """The unified ``query_balance`` snapshot; ``funded`` is False for a never-funded wallet."""

    isolated_balance: Decimal
    isolated_upnl: Decimal
    cross_balance: Decimal
    cross_margin: Decimal
    cross_upnl: Decimal
    locked: Decimal
    cross_available: Decimal
    balance: Decimal
    upnl: Decimal
    equity: Decimal
    pnl_freeze: Decimal
    funded: bool = True

    @classmethod
    def zero(cls) -> Balance:
        return cls(**dict.fromkeys(BALANCE_FIELDS, ZERO), funded=False)

    @classmethod
    def parse(cls, data: Any) -> Balance:
        o = _obj(data, "balance")
        return cls(**{name: _od(o, name) or ZERO for name in BALANCE_FIELDS})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Page(Generic[T]):
    """A list envelope ``{code, message, page_size, result, total}``."""

    result: tuple[T, ...]
    page_size: int
    total: int | None

    @classmethod
    def parse(cls, data: Any, item: Callable[[Any], T]) -> Page[T]:
        if isinstance(data, list):  # tolerate a bare array
            return cls(tuple(item(x) for x in data), len(data), None)
        o = _obj(data, "list envelope")
        items = _list(o.get("result") or [], "result")
        return cls(
            result=tuple(item(x) for x in items),
            page_size=_oi(o, "page_size") or len(items),
            total=_oi(o, "total"),
        )


@dataclass(frozen=True)
class ActionResult:
    """The acknowledgement of a POST (the real outcome of orders comes from the stream)."""

    code: int
    message: str
    request_id: str | None

    @classmethod
    def parse(cls, data: Any) -> ActionResult:
        if isinstance(data, list):  # cancel_orders answers a bare array
            return cls(code=0, message="success", request_id=None)
        o = _obj(data, "action result")
        return cls(
            code=_oi(o, "code") or 0,
            message=str(o.get("message") or o.get("status") or ""),
            request_id=_os(o, "request_id"),
        )


@dataclass(frozen=True)
class LoginResult:
    token: str = field(repr=False)
    address: str
    alias: str | None
    chain: str
    perps_alpha: bool | None

    @classmethod
    def parse(cls, data: Any) -> LoginResult:
        o = _obj(data, "login")
        return cls(
            token=_s(o, "token"),
            address=_s(o, "address"),
            alias=_os(o, "alias"),
            chain=_s(o, "chain"),
            perps_alpha=o.get("perpsAlpha") if isinstance(o.get("perpsAlpha"), bool) else None,
        )

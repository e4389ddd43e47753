"""Typed results: frozen dataclasses with Decimal money, parsed tolerantly from PerpEx's JSON.

PerpEx documents no bodies, so every parser accepts the envelope bare or as ``{"data": ...}``,
reads each field under the names a venue is likely to use (camelCase first, then snake_case and
Hyperliquid's short names), takes decimals as strings or numbers (through ``str``, never float
arithmetic) and times as Unix seconds, milliseconds or ISO-8601. A field we cannot do without
(a symbol, an order id, a price where one is needed) raises :class:`BadResponseError`; anything
else missing is None. Unknown fields are ignored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from perpex.errors import APIError, BadResponseError, map_error

T = TypeVar("T")
ZERO = Decimal(0)
ENVELOPE_KEYS = ("data", "result", "results")
ORDER_STATUSES = {
    "new": "open",
    "open": "open",
    "resting": "open",
    "partially_filled": "open",
    "partiallyfilled": "open",
    "untriggered": "untriggered",
    "triggered": "open",
    "filled": "filled",
    "canceled": "canceled",
    "cancelled": "canceled",
    "rejected": "rejected",
    "expired": "expired",
}


# -- readers ------------------------------------------------------------------------------------


def unwrap(data: Any) -> Any:
    """The payload of ``{"data": x}`` (or ``result``), else ``data`` itself."""
    if isinstance(data, dict):
        for key in ENVELOPE_KEYS[:2]:
            if key in data and isinstance(data[key], dict | list):
                return data[key]
    return data


def obj(data: Any, what: str) -> dict[str, Any]:
    data = unwrap(data)
    if not isinstance(data, dict):
        raise BadResponseError(f"{what}: expected a JSON object")
    return data


def items(data: Any, what: str, *keys: str) -> list[Any]:
    """A list, bare, enveloped, or under one of ``keys``."""
    data = unwrap(data)
    if isinstance(data, dict):
        for key in (*keys, *ENVELOPE_KEYS):
            if isinstance(data.get(key), list):
                return list(data[key])
    if not isinstance(data, list):
        raise BadResponseError(f"{what}: expected a JSON array")
    return data


def pick(data: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = data.get(name)
        if value is not None and value != "":
            return value
    return None


def dec(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise BadResponseError(f"{name} is not a decimal")
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise BadResponseError(f"{name} is not a decimal") from None
    if not result.is_finite():
        raise BadResponseError(f"{name} is not a finite decimal")
    return result


def opt_dec(value: Any, name: str) -> Decimal | None:
    return None if value is None or value == "" else dec(value, name)


def field_dec(data: Mapping[str, Any], *names: str) -> Decimal | None:
    """The first of ``names`` holding a number (an object under one of them is another thing)."""
    scalars = {n: data.get(n) for n in names if not isinstance(data.get(n), dict | list)}
    return opt_dec(pick(scalars, *names), names[0])


def need_dec(data: Mapping[str, Any], *names: str) -> Decimal:
    value = pick(data, *names)
    if value is None:
        raise BadResponseError(f"missing field {names[0]!r}")
    return dec(value, names[0])


def text(data: Mapping[str, Any], *names: str) -> str | None:
    value = pick(data, *names)
    if value is None or isinstance(value, bool | dict | list):
        return None
    return str(value)


def need_text(data: Mapping[str, Any], *names: str) -> str:
    value = text(data, *names)
    if not value:
        raise BadResponseError(f"missing field {names[0]!r}")
    return value


def parse_time(value: Any, name: str = "time") -> datetime:
    """Unix seconds or milliseconds (number or digits), or ISO-8601 (naive means UTC)."""
    if isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit():
        value = float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise BadResponseError(f"{name} is out of range") from None
    if not isinstance(value, str):
        raise BadResponseError(f"{name} is not a time")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadResponseError(f"{name} is not an ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def field_time(data: Mapping[str, Any], *names: str) -> datetime | None:
    value = pick(data, *names)
    return None if value is None else parse_time(value, names[0])


def flag(data: Mapping[str, Any], *names: str) -> bool:
    value = pick(data, *names)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def whole(data: Mapping[str, Any], *names: str) -> int | None:
    value = pick(data, *names)
    if isinstance(value, dict):  # Hyperliquid: "leverage": {"type": "cross", "value": 10}
        value = value.get("value")
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        raise BadResponseError(f"{names[0]} is not a number") from None


def side_of(value: Any) -> str:
    word = str(value or "").strip().lower()
    if word in ("buy", "b", "bid", "long"):
        return "buy"
    if word in ("sell", "s", "a", "ask", "short"):
        return "sell"
    raise BadResponseError(f"side {word[:20]!r} is neither buy nor sell")


def _lower(value: str | None) -> str | None:
    return value.strip().lower() if value else None


def step_from(
    data: Mapping[str, Any], size_names: tuple[str, ...], decimals: str
) -> Decimal | None:
    """A tick given as a size, or as a number of decimals (Hyperliquid's ``szDecimals``)."""
    size = field_dec(data, *size_names)
    if size is not None:
        return size
    places = whole(data, decimals)
    return None if places is None else Decimal(1).scaleb(-places)


# -- markets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Market:
    symbol: str
    base_asset: str
    quote_asset: str
    settle_asset: str
    status: str
    tick_size: Decimal | None
    lot_size: Decimal | None
    min_qty: Decimal | None
    max_leverage: Decimal | None
    maintenance_margin_rate: Decimal | None  # given, or derived: 1 / (2 * max leverage)
    maker_fee: Decimal | None
    taker_fee: Decimal | None
    mark_price: Decimal | None
    index_price: Decimal | None
    last_price: Decimal | None
    funding_rate: Decimal | None  # per funding interval, a fraction
    funding_interval_s: int | None
    next_funding_time: datetime | None
    open_interest: Decimal | None
    # The last settlement (assumed: see the package docstring): when, at what rate and mark.
    last_funding_time: datetime | None
    last_funding_rate: Decimal | None
    last_funding_price: Decimal | None
    volume_24h: Decimal | None

    @classmethod
    def parse(cls, data: Any) -> Market:
        d = obj(data, "market")
        symbol = need_text(d, "symbol", "name", "coin", "market")
        base = text(d, "baseAsset", "base_asset", "base") or symbol.split("-")[0]
        max_leverage = field_dec(d, "maxLeverage", "max_leverage")
        rate = field_dec(d, "maintenanceMarginRate", "maintenance_margin_rate", "mmr")
        if rate is None and max_leverage:
            rate = 1 / (2 * max_leverage)
        lot = step_from(d, ("lotSize", "lot_size", "stepSize", "qtyStep"), "szDecimals")
        return cls(
            symbol=symbol,
            base_asset=base,
            quote_asset=text(d, "quoteAsset", "quote_asset", "quote") or "USD",
            settle_asset=text(d, "settleAsset", "settle_asset", "marginAsset") or "USDC",
            status=(_lower(text(d, "status", "state")) or "trading"),
            tick_size=step_from(
                d, ("tickSize", "tick_size", "priceTick", "priceIncrement"), "pxDecimals"
            ),
            lot_size=lot,
            min_qty=field_dec(d, "minQty", "min_qty", "minSize", "minOrderSize") or lot,
            max_leverage=max_leverage,
            maintenance_margin_rate=rate,
            maker_fee=field_dec(d, "makerFee", "maker_fee"),
            taker_fee=field_dec(d, "takerFee", "taker_fee"),
            mark_price=field_dec(d, "markPrice", "mark_price", "markPx"),
            index_price=field_dec(d, "indexPrice", "index_price", "oraclePx", "oraclePrice"),
            last_price=field_dec(d, "lastPrice", "last_price", "midPx"),
            funding_rate=field_dec(d, "fundingRate", "funding_rate", "funding"),
            funding_interval_s=whole(d, "fundingInterval", "funding_interval"),
            next_funding_time=field_time(d, "nextFundingTime", "next_funding_time"),
            open_interest=field_dec(d, "openInterest", "open_interest"),
            volume_24h=field_dec(d, "volume24h", "volume_24h", "dayNtlVlm"),
            last_funding_time=field_time(d, "lastFundingTime", "last_funding_time"),
            last_funding_rate=field_dec(d, "lastFundingRate", "last_funding_rate"),
            last_funding_price=field_dec(d, "lastFundingPrice", "last_funding_price"),
        )


@dataclass(frozen=True)
class BookLevel:
    price: Decimal
    size: Decimal

    @classmethod
    def parse(cls, data: Any) -> BookLevel:
        if isinstance(data, list | tuple) and len(data) >= 2:
            return cls(dec(data[0], "price"), dec(data[1], "size"))
        if isinstance(data, dict):
            return cls(
                need_dec(data, "price", "px", "p"), need_dec(data, "size", "quantity", "sz", "qty")
            )
        raise BadResponseError("a book level is neither [price, size] nor an object")


@dataclass(frozen=True)
class OrderBook:
    symbol: str
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    mark_price: Decimal | None
    index_price: Decimal | None
    time: datetime | None

    @classmethod
    def parse(cls, data: Any, symbol: str | None = None) -> OrderBook:
        d = obj(data, "orderbook")
        levels = d.get("levels")  # Hyperliquid: [bids, asks]
        bids = d.get("bids", levels[0] if isinstance(levels, list) and len(levels) == 2 else None)
        asks = d.get("asks", levels[1] if isinstance(levels, list) and len(levels) == 2 else None)
        if not isinstance(bids, list) or not isinstance(asks, list):
            raise BadResponseError("orderbook: bids and asks must be arrays")
        return cls(
            symbol=text(d, "symbol", "coin") or symbol or "",
            bids=tuple(BookLevel.parse(level) for level in bids),
            asks=tuple(BookLevel.parse(level) for level in asks),
            mark_price=field_dec(d, "markPrice", "mark_price"),
            index_price=field_dec(d, "indexPrice", "index_price"),
            time=field_time(d, "time", "timestamp", "ts"),
        )


# -- account ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    asset: str
    total: Decimal
    available: Decimal | None
    locked: Decimal | None

    @classmethod
    def parse(cls, data: Any) -> Balance:
        d = obj(data, "balance")
        return cls(
            asset=text(d, "asset", "currency", "coin", "token") or "USDC",
            total=need_dec(d, "total", "balance", "equity", "amount"),
            available=field_dec(d, "available", "free", "withdrawable"),
            locked=field_dec(d, "locked", "hold", "frozen"),
        )


@dataclass(frozen=True)
class Position:
    symbol: str
    size: Decimal  # signed: negative is short
    entry_price: Decimal
    mark_price: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal | None
    leverage: int | None
    margin_mode: str | None  # "cross" or "isolated"
    margin: Decimal | None  # margin held (isolated) or used (cross)
    maintenance_margin: Decimal | None
    liquidation_price: Decimal | None
    margin_ratio: Decimal | None  # maintenance / equity of its scope; liquidation at 1
    updated_at: datetime | None

    @property
    def side(self) -> str:
        return "long" if self.size > 0 else "short" if self.size < 0 else "flat"

    @classmethod
    def parse(cls, data: Any) -> Position:
        d = obj(data, "position")
        if isinstance(
            d.get("position"), dict
        ):  # Hyperliquid: {"type": "oneWay", "position": {...}}
            d = d["position"]
        size = need_dec(d, "size", "quantity", "qty", "szi", "positionAmt")
        side = text(d, "side", "direction")
        if side and side.lower() not in ("flat", "none", "both"):
            size = abs(size) if side_of(side) == "buy" else -abs(size)
        leverage = d.get("leverage")
        mode = text(d, "marginMode", "margin_mode", "marginType")
        if mode is None and isinstance(leverage, dict):
            mode = text(leverage, "type")
        return cls(
            symbol=need_text(d, "symbol", "coin", "market"),
            size=size,
            entry_price=field_dec(d, "entryPrice", "entry_price", "entryPx", "avgPrice") or ZERO,
            mark_price=field_dec(d, "markPrice", "mark_price", "markPx"),
            unrealized_pnl=field_dec(d, "unrealizedPnl", "unrealized_pnl", "upnl", "unrealizedPnL"),
            realized_pnl=field_dec(d, "realizedPnl", "realized_pnl"),
            leverage=whole(d, "leverage"),
            margin_mode=_lower(mode),
            margin=field_dec(d, "margin", "marginUsed", "isolatedMargin", "initialMargin"),
            maintenance_margin=field_dec(
                d, "maintenanceMargin", "maintenance_margin", "maintMargin"
            ),
            liquidation_price=field_dec(
                d, "liquidationPrice", "liquidation_price", "liqPrice", "liquidationPx"
            ),
            margin_ratio=field_dec(d, "marginRatio", "margin_ratio"),
            updated_at=field_time(d, "updatedAt", "updated_at", "time"),
        )


@dataclass(frozen=True)
class Margin:
    equity: Decimal | None
    balance: Decimal | None
    unrealized_pnl: Decimal | None
    initial_margin: Decimal | None
    maintenance_margin: Decimal | None
    available: Decimal | None
    margin_ratio: Decimal | None  # of the cross scope
    cross_equity: Decimal | None
    cross_maintenance_margin: Decimal | None

    @classmethod
    def parse(cls, data: Any) -> Margin:
        d = obj(data, "margin")
        return cls(
            equity=field_dec(d, "accountValue", "equity", "totalEquity"),
            balance=field_dec(d, "balance", "totalBalance", "cash"),
            unrealized_pnl=field_dec(d, "unrealizedPnl", "unrealized_pnl", "upnl"),
            initial_margin=field_dec(
                d, "initialMargin", "initial_margin", "totalMarginUsed", "marginUsed"
            ),
            maintenance_margin=field_dec(
                d, "maintenanceMargin", "maintenance_margin", "crossMaintenanceMarginUsed"
            ),
            available=field_dec(d, "available", "availableMargin", "withdrawable", "free"),
            margin_ratio=field_dec(d, "crossMarginRatio", "marginRatio", "margin_ratio"),
            cross_equity=field_dec(d, "crossAccountValue", "cross_equity"),
            cross_maintenance_margin=field_dec(
                d, "crossMaintenanceMargin", "cross_maintenance_margin"
            ),
        )


@dataclass(frozen=True)
class Account:
    account_id: str | None
    balances: tuple[Balance, ...]
    positions: tuple[Position, ...]
    margin: Margin

    @classmethod
    def parse(cls, data: Any) -> Account:
        d = obj(data, "account")
        raw_balances = d.get("balances")
        if isinstance(raw_balances, dict):
            raw_balances = [raw_balances]
        elif raw_balances is None and isinstance(d.get("balance"), dict):
            raw_balances = [d["balance"]]
        positions = pick(d, "positions", "assetPositions") or []
        summary = pick(d, "margin", "marginSummary", "crossMarginSummary")
        if not isinstance(positions, list) or not isinstance(raw_balances or [], list):
            raise BadResponseError("account: positions and balances must be arrays")
        return cls(
            account_id=text(d, "accountId", "account_id", "id", "address"),
            balances=tuple(Balance.parse(b) for b in raw_balances or []),
            positions=tuple(p for p in (Position.parse(x) for x in positions) if p.size != 0),
            margin=Margin.parse(summary if isinstance(summary, dict) else d),
        )


# -- orders and fills ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    id: str
    client_order_id: str | None
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: str | None
    reduce_only: bool
    status: str  # open, untriggered, filled, canceled, rejected, expired (or the venue's word)
    filled_quantity: Decimal
    average_price: Decimal | None
    leverage: int | None
    margin_mode: str | None
    created_at: datetime | None
    updated_at: datetime | None
    liquidation: bool = False  # an order the venue sent to liquidate a position
    reason: str = ""  # why it was rejected or cancelled, in the venue's words

    @classmethod
    def parse(cls, data: Any) -> Order:
        d = obj(data, "order")
        status = _lower(text(d, "status", "state")) or "open"
        return cls(
            id=need_text(d, "id", "orderId", "order_id", "oid"),
            client_order_id=text(d, "clientOrderId", "client_order_id", "cloid", "clOrdId"),
            symbol=need_text(d, "symbol", "coin", "market"),
            side=side_of(pick(d, "side")),
            type=_lower(text(d, "type", "orderType", "order_type")) or "limit",
            quantity=need_dec(d, "quantity", "size", "qty", "origQty", "sz"),
            price=field_dec(d, "price", "limitPrice", "px"),
            stop_price=field_dec(d, "stopPrice", "stop_price", "triggerPrice", "triggerPx"),
            time_in_force=_lower(text(d, "timeInForce", "time_in_force", "tif")),
            reduce_only=flag(d, "reduceOnly", "reduce_only"),
            status=ORDER_STATUSES.get(status.replace(" ", "_"), status),
            filled_quantity=field_dec(
                d, "filledQuantity", "filled_quantity", "executedQty", "filled"
            )
            or ZERO,
            average_price=field_dec(d, "averagePrice", "average_price", "avgPrice", "avgPx"),
            leverage=whole(d, "leverage"),
            margin_mode=_lower(text(d, "marginMode", "margin_mode")),
            created_at=field_time(d, "createdAt", "created_at", "timestamp"),
            updated_at=field_time(d, "updatedAt", "updated_at"),
            liquidation=flag(d, "liquidation", "isLiquidation"),
            reason=(text(d, "reason", "rejectReason", "cancelReason") or "")[:200],
        )


@dataclass(frozen=True)
class BatchResult:
    """One order of a batch: its order when accepted, else the venue's code and message."""

    index: int
    order: Order | None
    error_code: str | None
    error_message: str | None

    @property
    def ok(self) -> bool:
        return self.order is not None and self.error_code is None

    def error(self) -> APIError | None:
        """The refusal as the exception a single order would have raised."""
        if self.ok:
            return None
        code = self.error_code or ""
        status = {"ORDER_NOT_FOUND": 404}.get(code, 400)
        return map_error(status, code, self.error_message or "refused", endpoint="orders/batch")

    @classmethod
    def parse(cls, data: Any, index: int) -> BatchResult:
        if not isinstance(data, dict):
            raise BadResponseError("a batch result is not an object")
        at = whole(data, "index", "i")
        where = index if at is None else at
        error = data.get("error")
        failed = error is not None or str(data.get("status", "")).lower() in (
            "error",
            "err",
            "rejected",
        )
        if data.get("ok") is False or data.get("success") is False:
            failed = True
        if failed:
            code, message = error_fields(error if isinstance(error, dict) else data)
            if isinstance(error, str):
                message = error
            return cls(where, None, code or "REJECTED", message or "refused")
        order = data.get("order", data)
        return cls(where, Order.parse(order), None, None)


def parse_batch(data: Any) -> list[BatchResult]:
    return [
        BatchResult.parse(item, i)
        for i, item in enumerate(items(data, "batch", "results", "orders"))
    ]


def fill_id(d: Mapping[str, Any]) -> str:
    given = text(d, "id", "tradeId", "fillId", "tid", "trade_id")
    if given:
        return given
    # No id on the wire: the same fill always hashes to the same id (dedupe across pages).
    parts = [
        str(pick(d, *n))
        for n in (("orderId", "oid"), ("time",), ("price", "px"), ("quantity", "size", "sz"))
    ]
    return "h" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Fill:
    id: str
    order_id: str | None
    client_order_id: str | None
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    realized_pnl: Decimal | None
    liquidity: str | None  # "maker" / "taker"
    liquidation: bool
    time: datetime

    @classmethod
    def parse(cls, data: Any) -> Fill:
        d = obj(data, "trade")
        liquidity = _lower(text(d, "liquidity", "role"))
        if liquidity is None and isinstance(d.get("isMaker"), bool):
            liquidity = "maker" if d["isMaker"] else "taker"
        return cls(
            id=fill_id(d),
            order_id=text(d, "orderId", "order_id", "oid"),
            client_order_id=text(d, "clientOrderId", "client_order_id", "cloid"),
            symbol=need_text(d, "symbol", "coin", "market"),
            side=side_of(pick(d, "side", "dir")),
            price=need_dec(d, "price", "px"),
            quantity=need_dec(d, "quantity", "size", "qty", "sz"),
            fee=field_dec(d, "fee", "commission") or ZERO,
            fee_asset=text(d, "feeAsset", "fee_asset", "feeToken") or "USDC",
            realized_pnl=field_dec(d, "realizedPnl", "realized_pnl", "closedPnl"),
            liquidity=liquidity,
            liquidation=flag(d, "liquidation", "isLiquidation"),
            time=parse_time(pick(d, "time", "timestamp", "createdAt", "created_at"), "time"),
        )


@dataclass(frozen=True)
class TradesPage:
    fills: tuple[Fill, ...]
    next_cursor: str | None  # opaque; None on the last page
    next_page: int | None  # the page-number fallback, when the venue pages by number

    @classmethod
    def parse(cls, data: Any) -> TradesPage:
        fills = tuple(Fill.parse(f) for f in items(data, "trades", "trades", "fills", "items"))
        cursor: Any = None
        page = None
        if isinstance(data, dict):
            inner = data.get("pagination")
            nested: dict[str, Any] = inner if isinstance(inner, dict) else data
            cursor = pick(nested, "nextCursor", "next_cursor", "cursor", "next")
            number, total = whole(nested, "page"), whole(nested, "totalPages", "total_pages")
            if cursor is None and number is not None and total is not None and number < total:
                page = number + 1
        return cls(fills, None if cursor is None else str(cursor), page)


# -- stream payloads ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicTrade:
    id: str | None
    symbol: str
    price: Decimal
    size: Decimal
    side: str | None
    time: datetime | None

    @classmethod
    def parse(cls, data: Any, symbol: str = "") -> PublicTrade:
        d = obj(data, "trade")
        side = pick(d, "side")
        return cls(
            id=text(d, "id", "tid"),
            symbol=text(d, "symbol", "coin") or symbol,
            price=need_dec(d, "price", "px"),
            size=need_dec(d, "size", "quantity", "sz", "qty"),
            side=None if side is None else side_of(side),
            time=field_time(d, "time", "timestamp"),
        )


@dataclass(frozen=True)
class Candle:
    time: datetime  # the interval's start
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    @classmethod
    def parse(cls, data: Any) -> Candle:
        if isinstance(data, list | tuple) and len(data) >= 5:
            volume = dec(data[5], "volume") if len(data) > 5 else ZERO
            o, h, low, c = (dec(v, "price") for v in data[1:5])
            return cls(parse_time(data[0]), o, h, low, c, volume)
        d = obj(data, "candle")
        return cls(
            time=parse_time(pick(d, "time", "t", "openTime", "start"), "time"),
            open=need_dec(d, "open", "o"),
            high=need_dec(d, "high", "h"),
            low=need_dec(d, "low", "l"),
            close=need_dec(d, "close", "c"),
            volume=field_dec(d, "volume", "v") or ZERO,
        )


@dataclass(frozen=True)
class PositionSnapshot:
    positions: tuple[Position, ...]


@dataclass(frozen=True)
class PositionUpdate:
    position: Position  # size 0 when the position closed


@dataclass(frozen=True)
class LiquidationWarning:
    """The venue's own warning that a position is close to liquidation."""

    symbol: str
    margin_mode: str | None
    margin_ratio: Decimal | None
    mark_price: Decimal | None
    liquidation_price: Decimal | None
    message: str


@dataclass(frozen=True)
class Liquidation:
    symbol: str
    size: Decimal | None  # the signed size that was closed
    price: Decimal | None
    message: str


PositionEvent = PositionSnapshot | PositionUpdate | LiquidationWarning | Liquidation


def parse_position_event(data: Any) -> PositionEvent:
    """A ``positions`` channel payload; a bare position counts as an update."""
    d = obj(data, "positions event")
    kind = (_lower(text(d, "event", "type", "kind")) or "update").replace("-", "_")
    if kind == "snapshot":
        return PositionSnapshot(
            tuple(Position.parse(p) for p in items(d, "positions", "positions"))
        )
    if kind in ("liquidation_warning", "margin_call", "warning"):
        return LiquidationWarning(
            symbol=need_text(d, "symbol", "coin"),
            margin_mode=_lower(text(d, "marginMode", "margin_mode")),
            margin_ratio=field_dec(d, "marginRatio", "margin_ratio"),
            mark_price=field_dec(d, "markPrice", "mark_price"),
            liquidation_price=field_dec(d, "liquidationPrice", "liquidation_price", "liqPrice"),
            message=text(d, "message", "msg") or "liquidation warning",
        )
    if kind in ("liquidation", "liquidated"):
        return Liquidation(
            symbol=need_text(d, "symbol", "coin"),
            size=field_dec(d, "size", "quantity", "szi"),
            price=field_dec(d, "price", "px"),
            message=text(d, "message", "msg") or "position liquidated",
        )
    return PositionUpdate(Position.parse(d.get("position", d)))


def error_fields(data: Any) -> tuple[str, str]:
    """(code, message) of ``{error: {code, message}}``, ``{code, message}`` or ``{error: text}``."""
    if not isinstance(data, dict):
        return "", ""
    inner = data.get("error")
    source = inner if isinstance(inner, dict) else data
    code = source.get("code")
    message = pick(source, "message", "msg", "detail", "description")
    if message is None and isinstance(inner, str):
        message = inner
    return ("" if code is None else str(code)), ("" if message is None else str(message))


def parse_list(data: Any, parser: Callable[[Any], T], what: str, *keys: str) -> list[T]:
    return [parser(item) for item in items(data, what, *keys)]

"""Typed answers: frozen dataclasses, ``Decimal`` money and text (ULID) ids, parsed from OCX's
camelCase JSON. Decimals arrive as strings (numbers are accepted via ``str``, never float
arithmetic); unknown fields are ignored; a shape that cannot be read raises
:class:`~ocx.errors.BadResponseError`. Where the reference gives no shape (positions,
``/perps/balances``, ``/portfolio/*``) the parsers take the fields assumed in ``ocx/__init__``
and tolerate their absence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from ocx.errors import BadResponseError

T = TypeVar("T")
BUCKETS = ("wallet", "perps", "options", "spot")
_FUTURE_ID = re.compile(r"^[A-Z0-9]+-[A-Z]+-(\d{4}-\d{2}-\d{2})$")


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


# -- readers ----------------------------------------------------------------------------------


def _obj(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadResponseError(f"{what}: expected a JSON object")
    return data


def _list(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise BadResponseError(f"{what}: expected a JSON array")
    return data


def dec(value: Any, name: str) -> Decimal:
    if value is None or isinstance(value, bool):
        raise BadResponseError(f"{name} is not a decimal")
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise BadResponseError(f"{name} is not a decimal") from None
    if not result.is_finite():
        raise BadResponseError(f"{name} is not a finite decimal")
    return result


def opt_dec(value: Any, name: str) -> Decimal | None:
    return None if value is None or value == "" else dec(value, name)


def _d(o: dict[str, Any], key: str) -> Decimal:
    if key not in o:
        raise BadResponseError(f"missing field {key!r}")
    return dec(o[key], key)


def _od(o: dict[str, Any], *keys: str) -> Decimal | None:
    for key in keys:
        if o.get(key) not in (None, ""):
            return dec(o[key], key)
    return None


def _s(o: dict[str, Any], key: str) -> str:
    value = o.get(key)
    if not isinstance(value, str) or not value:
        raise BadResponseError(f"{key} is not a string")
    return value


def _os(o: dict[str, Any], key: str) -> str | None:
    value = o.get(key)
    return value if isinstance(value, str) and value else None


def _b(o: dict[str, Any], key: str) -> bool:
    return o.get(key) is True


def parse_time(value: Any, name: str) -> datetime:
    """ISO-8601 UTC (the docs' response form) or Unix seconds/milliseconds (streams)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
    if not isinstance(value, str):
        raise BadResponseError(f"{name} is not a time")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadResponseError(f"{name} is not an ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ot(o: dict[str, Any], key: str) -> datetime | None:
    return None if o.get(key) in (None, "") else parse_time(o[key], key)


def items(data: Any, parser: Callable[[Any], T], what: str) -> list[T]:
    return [parser(item) for item in _list(data, what)]


# -- market data -----------------------------------------------------------------------------


def expiry_from_id(market_id: str) -> datetime | None:
    """A dated future's expiry day from its id (``BTC-USDC-2026-06-26``), at 00:00 UTC."""
    found = _FUTURE_ID.match(market_id)
    if found is None or market_id.endswith("-SPOT"):
        return None
    return datetime.fromisoformat(found.group(1)).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Market:
    id: str
    symbol: str
    market_type: str  # perp, future (dated), spot
    base: str
    quote: str
    mark_price: Decimal | None
    price_decimals: int
    size_decimals: int
    index_market_id: str | None
    expires_at: datetime | None

    @classmethod
    def parse(cls, data: Any) -> Market:
        o = _obj(data, "market")
        market_id = _s(o, "id")
        kind = str(o.get("marketType") or "perp")
        expires = _ot(o, "expiresAt") or (expiry_from_id(market_id) if kind != "perp" else None)
        try:
            price_decimals, size_decimals = int(o["priceDecimals"]), int(o["sizeDecimals"])
        except (KeyError, TypeError, ValueError):
            raise BadResponseError("market: priceDecimals/sizeDecimals missing") from None
        return cls(
            market_id,
            str(o.get("symbol") or market_id),
            kind,
            str(o.get("baseSymbol") or market_id.split("-")[0]),
            str(o.get("quoteSymbol") or "USDC"),
            _od(o, "markPrice"),
            price_decimals,
            size_decimals,
            _os(o, "indexMarketId"),
            expires,
        )

    @property
    def is_future(self) -> bool:
        return self.market_type in ("future", "dated_future", "futures")


@dataclass(frozen=True)
class BookLevel:
    price: Decimal
    size: Decimal


@dataclass(frozen=True)
class OrderBook:
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]

    @classmethod
    def parse(cls, data: Any) -> OrderBook:
        o = _obj(data, "order book")

        def side(name: str) -> tuple[BookLevel, ...]:
            out = []
            for level in _list(o.get(name, []), name):
                if isinstance(level, dict):
                    out.append(BookLevel(_d(level, "price"), _d(level, "size")))
                elif isinstance(level, list) and len(level) >= 2:
                    out.append(BookLevel(dec(level[0], "price"), dec(level[1], "size")))
                else:
                    raise BadResponseError(f"{name}: a level is not [price, size]")
            return tuple(out)

        return cls(side("bids"), side("asks"))


@dataclass(frozen=True)
class MarketStats:
    market_id: str
    mark_price: Decimal
    change_24h_pct: Decimal | None
    volume_24h_usd: Decimal | None
    open_interest_usd: Decimal | None
    funding_1h_pct: Decimal | None
    index_price: Decimal | None
    next_funding_at: datetime | None

    @classmethod
    def parse(cls, data: Any, market_id: str = "") -> MarketStats:
        o = _obj(data, "market stats")
        return cls(
            str(o.get("marketId") or market_id),
            _d(o, "markPrice"),
            _od(o, "change24hPct"),
            _od(o, "volume24hUsd"),
            _od(o, "openInterestUsd"),
            _od(o, "funding1hPct"),
            _od(o, "indexPrice"),
            _ot(o, "nextFundingAt"),
        )

    @property
    def funding_rate_1h(self) -> Decimal | None:
        """The 1-hour rate as a fraction (the API gives a percent)."""
        return None if self.funding_1h_pct is None else self.funding_1h_pct / 100


@dataclass(frozen=True)
class Candle:
    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def parse_ohlc(data: Any) -> list[Candle]:
    """TradingView's ``{s, t, o, h, l, c, v}`` as candles; ``s: no_data`` is none."""
    o = _obj(data, "ohlc")
    if o.get("s") == "no_data":
        return []
    if o.get("s") != "ok":
        raise BadResponseError(f"ohlc: status {str(o.get('s'))[:20]!r}")
    cols = {k: _list(o.get(k, []), k) for k in "tohlcv"}
    if len({len(v) for v in cols.values()}) != 1:
        raise BadResponseError("ohlc: columns of different lengths")
    return [
        Candle(
            parse_time(t, "t"), dec(op, "o"), dec(h, "h"), dec(lo, "l"), dec(c, "c"), dec(v, "v")
        )
        for t, op, h, lo, c, v in zip(*(cols[k] for k in "tohlcv"), strict=True)
    ]


@dataclass(frozen=True)
class FeeTier:
    min_30d_volume_usd: Decimal
    maker_bps: Decimal  # negative: a rebate
    taker_bps: Decimal

    @classmethod
    def parse(cls, data: Any) -> FeeTier:
        o = _obj(data, "fee tier")
        return cls(_d(o, "min30dVolumeUsd"), _d(o, "makerBps"), _d(o, "takerBps"))


@dataclass(frozen=True)
class InsuranceFund:
    balance: Decimal
    asset: str

    @classmethod
    def parse(cls, data: Any) -> InsuranceFund:
        o = _obj(data, "insurance fund")
        return cls(_d(o, "balance"), str(o.get("asset") or "USDC"))


# -- orders, fills, positions ----------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    id: str
    client_order_id: str | None
    market_id: str
    side: str
    type: str
    price: Decimal | None
    quantity: Decimal
    filled_quantity: Decimal
    avg_fill_price: Decimal | None
    time_in_force: str | None
    post_only: bool
    reduce_only: bool
    margin_mode: str | None
    stop_price: Decimal | None
    take_profit_price: Decimal | None
    stop_loss_price: Decimal | None
    quote_id: str | None
    status: str
    created_at: datetime | None
    updated_at: datetime | None
    reason: str | None = None  # why OCX cancelled or rejected it (e.g. "liquidation")

    @classmethod
    def parse(cls, data: Any) -> Order:
        o = _obj(data, "order")
        return cls(
            _s(o, "id"),
            _os(o, "clientOrderId"),
            _s(o, "marketId"),
            _s(o, "side"),
            str(o.get("type") or "limit"),
            _od(o, "price"),
            _d(o, "quantity"),
            _od(o, "filledQuantity") or Decimal(0),
            _od(o, "avgFillPrice"),
            _os(o, "timeInForce"),
            _b(o, "postOnly"),
            _b(o, "reduceOnly"),
            _os(o, "marginMode"),
            _od(o, "stopPrice"),
            _od(o, "takeProfitPrice"),
            _od(o, "stopLossPrice"),
            _os(o, "quoteId"),
            _s(o, "status"),
            _ot(o, "createdAt"),
            _ot(o, "updatedAt"),
            _os(o, "reason"),
        )

    @property
    def is_open(self) -> bool:
        return self.status in ("open", "untriggered", "partially_filled", "new")


@dataclass(frozen=True)
class Fill:
    id: str
    order_id: str | None
    client_order_id: str | None
    market_id: str
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal | None  # negative: a maker rebate
    fee_asset: str | None
    liquidity: str | None  # maker or taker
    realized_pnl: Decimal | None
    created_at: datetime

    @classmethod
    def parse(cls, data: Any) -> Fill:
        o = _obj(data, "fill")
        return cls(
            _s(o, "id"),
            _os(o, "orderId"),
            _os(o, "clientOrderId"),
            _s(o, "marketId"),
            _s(o, "side"),
            _d(o, "price"),
            _d(o, "quantity"),
            _od(o, "fee"),
            _os(o, "feeAsset"),
            _os(o, "liquidity"),
            _od(o, "realizedPnl"),
            parse_time(o.get("createdAt"), "createdAt"),
        )


@dataclass(frozen=True)
class Position:
    id: str | None
    market_id: str
    size: Decimal  # signed: long > 0
    entry_price: Decimal
    mark_price: Decimal | None
    unrealized_pnl: Decimal | None
    realized_pnl: Decimal | None
    liquidation_price: Decimal | None
    leverage: Decimal | None
    margin_mode: str | None
    status: str | None
    created_at: datetime | None = None

    @classmethod
    def parse(cls, data: Any) -> Position:
        """Takes ``side`` + ``quantity`` (the stream's form) or a signed ``size``."""
        o = _obj(data, "position")
        size = _od(o, "size")
        if size is None:
            quantity = _od(o, "quantity")
            if quantity is None:
                raise BadResponseError("position: neither size nor quantity")
            size = -abs(quantity) if o.get("side") in ("sell", "short") else abs(quantity)
        return cls(
            _os(o, "id"),
            _s(o, "marketId"),
            size,
            _od(o, "entryPrice") or Decimal(0),
            _od(o, "markPrice"),
            _od(o, "unrealizedPnl", "uPnl", "upnl"),
            _od(o, "realizedPnl"),
            _od(o, "liquidationPrice"),
            _od(o, "leverage"),
            _os(o, "marginMode"),
            _os(o, "status"),
            _ot(o, "createdAt"),
        )

    @property
    def side(self) -> str:
        return "buy" if self.size >= 0 else "sell"


@dataclass(frozen=True)
class PlaceResult:
    """``POST /perps/orders`` (and close): the order with its fills and resulting position."""

    order: Order
    fills: tuple[Fill, ...]
    position: Position | None

    @classmethod
    def parse(cls, data: Any) -> PlaceResult:
        o = _obj(data, "order result")
        inner = o.get("order") if isinstance(o.get("order"), dict) else o
        position = o.get("position")
        return cls(
            Order.parse(inner),
            tuple(items(o.get("fills") or [], Fill.parse, "fills")),
            Position.parse(position) if isinstance(position, dict) else None,
        )


@dataclass(frozen=True)
class Preview:
    notional: Decimal
    margin_required: Decimal
    est_fee: Decimal
    fee_bps: Decimal
    fee_role: str
    user_30d_volume: Decimal | None
    approved: bool
    reason: str | None
    price: Decimal | None

    @classmethod
    def parse(cls, data: Any) -> Preview:
        o = _obj(data, "preview")
        if not isinstance(o.get("approved"), bool):
            raise BadResponseError("preview: approved is not a boolean")
        return cls(
            _d(o, "notional"),
            _d(o, "marginRequired"),
            _d(o, "estFee"),
            _d(o, "feeBps"),
            _s(o, "feeRole"),
            _od(o, "user30dVolume"),
            o["approved"],
            _os(o, "reason"),
            _od(o, "price"),
        )


@dataclass(frozen=True)
class CancelAllResult:
    canceled: int
    order_ids: tuple[str, ...]

    @classmethod
    def parse(cls, data: Any) -> CancelAllResult:
        o = _obj(data, "cancel-all")
        ids = tuple(str(i) for i in o.get("orderIds") or [])
        count = o.get("canceled", len(ids))
        if isinstance(count, bool) or not isinstance(count, int):
            raise BadResponseError("cancel-all: canceled is not a count")
        return cls(count, ids)


@dataclass(frozen=True)
class QuoteResult:
    quote_id: str
    canceled: int
    orders: tuple[PlaceResult, ...]

    @classmethod
    def parse(cls, data: Any) -> QuoteResult:
        o = _obj(data, "quote")
        return cls(
            _s(o, "quoteId"),
            int(o.get("canceled") or 0),
            tuple(items(o.get("orders") or [], PlaceResult.parse, "orders")),
        )


# -- balances and the wallet -----------------------------------------------------------------


@dataclass(frozen=True)
class PerpsBalance:
    """``GET /perps/balances``: the perps bucket's margin view (OCX's figures are the truth)."""

    asset: str
    balance: Decimal | None
    equity: Decimal | None
    unrealized_pnl: Decimal | None
    initial_margin: Decimal | None
    maintenance_margin: Decimal | None
    available: Decimal | None

    @classmethod
    def parse(cls, data: Any) -> PerpsBalance:
        o = _obj(data, "perps balance")
        return cls(
            str(o.get("asset") or "USDC"),
            _od(o, "balance"),
            _od(o, "equity"),
            _od(o, "unrealizedPnl"),
            _od(o, "initialMargin"),
            _od(o, "maintenanceMargin"),
            _od(o, "available"),
        )


@dataclass(frozen=True)
class WalletBalance:
    onchain_deposit_total: Decimal
    wallet_balance: Decimal
    perps_balance: Decimal
    options_balance: Decimal
    pending_withdrawal_total: Decimal

    @classmethod
    def parse(cls, data: Any) -> WalletBalance:
        o = _obj(data, "wallet balance")
        return cls(
            *(
                _d(o, k)
                for k in (
                    "onchainDepositTotal",
                    "walletBalance",
                    "perpsBalance",
                    "optionsBalance",
                    "pendingWithdrawalTotal",
                )
            )
        )


@dataclass(frozen=True)
class AssetBalance:
    asset: str
    bucket: str
    available: Decimal
    locked: Decimal
    total: Decimal

    @classmethod
    def parse(cls, data: Any) -> AssetBalance:
        o = _obj(data, "asset")
        return cls(
            _s(o, "asset"), _s(o, "bucket"), _d(o, "available"), _d(o, "locked"), _d(o, "total")
        )


@dataclass(frozen=True)
class BucketBalances:
    """What ``POST /wallet/transfer`` answers: the buckets' balances after the move."""

    balances: dict[str, Decimal]

    @classmethod
    def parse(cls, data: Any) -> BucketBalances:
        o = _obj(data, "transfer")
        found = {b: _od(o, f"{b}Balance") for b in BUCKETS}
        if found["wallet"] is None:
            raise BadResponseError("transfer: no walletBalance")
        return cls({b: v for b, v in found.items() if v is not None})


@dataclass(frozen=True)
class LedgerEntry:
    id: str
    type: str
    amount: Decimal
    tx_hash: str | None
    created_at: datetime
    bucket: str | None

    @classmethod
    def parse(cls, data: Any) -> LedgerEntry:
        o = _obj(data, "ledger entry")
        return cls(
            _s(o, "id"),
            _s(o, "type"),
            _d(o, "amount"),
            _os(o, "txHash"),
            parse_time(o.get("createdAt"), "createdAt"),
            _os(o, "bucket"),
        )


@dataclass(frozen=True)
class Settlement:
    id: str
    kind: str
    amount: Decimal
    status: str
    tx_hash: str | None
    created_at: datetime | None

    @classmethod
    def parse(cls, data: Any) -> Settlement:
        o = _obj(data, "settlement")
        return cls(
            _s(o, "id"),
            _s(o, "kind"),
            _d(o, "amount"),
            _s(o, "status"),
            _os(o, "txHash"),
            _ot(o, "createdAt"),
        )


@dataclass(frozen=True)
class PortfolioBalances:
    buckets: dict[str, Decimal]
    perps_equity: Decimal | None
    unrealized_pnl: Decimal | None
    total_equity: Decimal | None

    @classmethod
    def parse(cls, data: Any) -> PortfolioBalances:
        o = _obj(data, "portfolio balances")
        raw = o.get("buckets")
        raw = raw if isinstance(raw, dict) else {}
        buckets = {str(k): dec(v, f"buckets.{k}") for k, v in raw.items()}
        return cls(buckets, _od(o, "perpsEquity"), _od(o, "unrealizedPnl"), _od(o, "totalEquity"))


# -- identity and keys -----------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    user_id: str
    wallet_address: str

    @classmethod
    def parse(cls, data: Any) -> Identity:
        o = _obj(data, "identity")
        return cls(_s(o, "userId"), _s(o, "walletAddress"))


@dataclass(frozen=True)
class ApiKey:
    """A key's metadata (``GET /perps/me/api-keys``); the secret is never listed."""

    id: str
    name: str
    scope: str
    allowed_ips: tuple[str, ...]
    expires_at: datetime | None
    created_at: datetime | None
    last_used_at: datetime | None
    status: str

    @classmethod
    def parse(cls, data: Any) -> ApiKey:
        o = _obj(data, "api key")
        ips = tuple(str(ip) for ip in o.get("allowedIps") or [])
        return cls(
            _s(o, "id"),
            str(o.get("name") or ""),
            _s(o, "scope"),
            ips,
            _ot(o, "expiresAt"),
            _ot(o, "createdAt"),
            _ot(o, "lastUsedAt"),
            str(o.get("status") or "active"),
        )


@dataclass(frozen=True)
class CreatedApiKey:
    """A new key: its metadata and the secret OCX shows exactly once (kept out of reprs)."""

    key: ApiKey
    secret: str = field(repr=False)

    @classmethod
    def parse(cls, data: Any) -> CreatedApiKey:
        o = _obj(data, "created api key")
        return cls(ApiKey.parse(o), _s(o, "secret"))

"""What every venue adapter provides: capability flags, a rate budget, and normalized records.

Pure data: frozen dataclasses, ``Decimal`` money, text ids. Pages and forms decide what to offer
from :class:`Capabilities`, never from the venue's name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from venues.account import AccountSession


class Kind(StrEnum):
    PERP = "perp"
    FUTURE = "future"
    OPTION = "option"
    SPOT = "spot"


class RiskModel(StrEnum):
    # Per-position maintenance margin is given; we compute liquidation and cross-check.
    COMPUTED = "computed"
    # The venue's liquidation price and maintenance margin are the truth (portfolio margin).
    REPORTED = "reported"
    # The venue reports liquidation; maintenance margin is derived where it is not given.
    HYBRID = "hybrid"


@dataclass(frozen=True)
class Capabilities:
    """What a venue can do, so forms and pages offer exactly that."""

    kinds: frozenset[Kind]
    time_in_force: frozenset[str]
    post_only: str  # "tif_alo" (a time in force), "flag" (a separate flag) or "none"
    order_types: frozenset[str]
    native_preview: bool
    native_cancel_all: bool
    native_close: bool
    batch_orders_max: int  # 0: no batch endpoint
    set_leverage: bool
    set_margin_mode: bool
    add_isolated_margin: bool
    bucket_transfer: bool
    risk_model: RiskModel
    funding_source: str  # "rebuild_from_rates", "venue_ledger" or "none"
    order_outcome: str  # "ws_session", "response" or "poll"
    mark_feed: str  # "ws", "sse" or "poll"
    account_events: bool


@dataclass(frozen=True)
class RateBucket:
    """One limit the venue enforces: ``capacity`` requests refilled at ``per_second``, counted
    per ``scope`` ("ip", "account", "key" or "user")."""

    scope: str
    capacity: int
    per_second: float


@dataclass(frozen=True)
class RateBudget:
    buckets: tuple[RateBucket, ...]
    # What the sync may plan per second (the rest is headroom for trading and the pages): across
    # all accounts of the venue when ``sync_scope`` is "venue"; else per credential, against the
    # bucket of that scope (PerpEx: "key").
    sync_per_second: float
    sync_scope: str = "venue"

    def dispatch_per_second(self) -> float:
        """What the dispatcher plans per second across all the venue's accounts. A per-credential
        share is applied to the venue-wide "ip" bucket too (unbounded without one)."""
        if self.sync_scope == "venue":
            return self.sync_per_second
        own = next(b for b in self.buckets if b.scope == self.sync_scope)
        ip = next((b for b in self.buckets if b.scope == "ip"), None)
        if ip is None:
            return float("inf")
        return ip.per_second * self.sync_per_second / own.per_second


API_URL_NAMES = ("api", "perps")


@dataclass(frozen=True)
class Endpoints:
    """Where one venue account (or the venue's public data) is reached: named URLs."""

    urls: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __getitem__(self, name: str) -> str:
        return self.urls[name]

    @property
    def origin(self) -> str:
        """The venue's REST API URL, by the adapters' convention named ``api`` (StandX's:
        ``perps``): used in cache keys, messages and the one-link-per-identity rule. Never the
        mapping's first entry: stored as JSON in PostgreSQL, the names come back in another
        order."""
        for name in API_URL_NAMES:
            if name in self.urls:
                return self.urls[name]
        return min(self.urls.values(), default="")


@dataclass(frozen=True)
class Instrument:
    """A tradable market, normalized (StandX: ``query_symbol_info``)."""

    symbol: str
    kind: Kind
    base_asset: str
    quote_asset: str
    price_tick_decimals: int
    qty_tick_decimals: int
    quote_decimals: int
    min_order_qty: Decimal
    max_order_qty: Decimal | None
    max_leverage: Decimal
    maker_fee: Decimal
    taker_fee: Decimal
    price_cap_ratio: Decimal | None
    price_floor_ratio: Decimal | None
    enabled: bool
    status: str  # "trading" takes orders; anything else is listed but closed
    # Dated futures and options: what they are written on, when they expire, and for options
    # the strike and "call"/"put"; how much of the underlying one contract is.
    underlying: str = ""
    expiry: datetime | None = None
    strike: Decimal | None = None
    option_type: str = ""
    contract_size: Decimal = Decimal(1)


@dataclass(frozen=True)
class Quote:
    """The latest prices and funding of one market."""

    symbol: str
    mark_price: Decimal | None
    index_price: Decimal | None
    last_price: Decimal | None
    funding_rate: Decimal | None  # per interval, as a fraction
    next_funding_time: datetime | None


@dataclass(frozen=True)
class FundingRatePoint:
    symbol: str
    time: datetime
    funding_rate: Decimal
    mark_price: Decimal | None
    index_price: Decimal | None


@dataclass(frozen=True)
class Candle:
    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True)
class Mark:
    """One market's latest prices, from a feed or a poll."""

    symbol: str
    mark_price: Decimal | None
    index_price: Decimal | None
    last_price: Decimal | None


@dataclass(frozen=True)
class FeedNotice:
    """Not a price: the feed reconnected, refused a request, or sent something unreadable."""

    kind: str  # "reconnected", "refused" or "malformed"
    text: str  # plain words, for the log


class MarkFeed(Protocol):
    """A venue's live marks for the symbols it is told to watch (reconnects by itself)."""

    def watch(self, symbol: str) -> None: ...

    def events(self) -> AsyncIterator[Mark | FeedNotice]: ...

    async def close(self) -> None: ...


class PublicSession(Protocol):
    """A venue's public market data, read without credentials. A context manager."""

    venue: str  # the adapter's key: what the records are stored under

    def __enter__(self) -> PublicSession: ...

    def __exit__(self, *exc: object) -> None: ...

    def instruments(self) -> list[Instrument]: ...

    def quote(self, symbol: str) -> Quote: ...

    def funding_history(
        self, symbol: str, since: datetime, until: datetime
    ) -> list[FundingRatePoint]: ...

    def candles(
        self, symbol: str, resolution: str, start: datetime, end: datetime, countback: int
    ) -> list[Candle]: ...

    def mark(self, symbol: str) -> Mark: ...


class VenueAdapter(Protocol):
    key: str  # "standx", stored on every linked account
    name: str  # how the pages and error sentences name the venue
    capabilities: Capabilities
    rate_budget: RateBudget

    def public(
        self,
        endpoints: Endpoints,
        *,
        limiter: Any = None,
        timeout: float = 10.0,
        retries: int = 3,
    ) -> PublicSession: ...

    def mark_feed(self, endpoints: Endpoints) -> MarkFeed: ...


@runtime_checkable
class SharedBudget(Protocol):
    """A venue that says how its client spends a request budget shared through Redis
    (``venues.budget``); others get a limiter built from their :class:`RateBudget`."""

    def shared_limiter(self, redis_client: Any, *, share: str) -> Any:
        """The limiter for ``share``: "all" (trading, pages: the venue's whole budget) or
        "sync" (the sync's part, which leaves the rest of the budget to trading)."""
        ...


@runtime_checkable
class AccountAdapter(VenueAdapter, Protocol):
    """A venue whose accounts can be linked and read (its account side has landed)."""

    def planned_requests(self, *, full_due: bool, idle: bool) -> int:
        """The requests an account read is sure to make (the sync reserves them at once)."""
        ...

    def account(
        self,
        endpoints: Endpoints,
        secrets: Mapping[str, str],
        *,
        limiter: Any = None,
        retries: int | None = None,
    ) -> AccountSession:
        """A session on one linked account; ``secrets`` are its credentials by kind."""
        ...

"""The OCX adapter over ``ocx/``: its capabilities, its rate budget, its errors in the
venue-neutral tree, and its public market data (perpetuals and dated futures) as normalized
records. Its risk model is ``reported``: OCX's portfolio margin is internal, so its liquidation
prices and maintenance margin are the truth and are never recomputed here.

Gaps between :mod:`venues.base` and OCX, handled here and nowhere else:

- A dated future's expiry is its market's ``expiresAt``, else the date in its id
  (:func:`expiry`).
- OCX publishes no minimum size, maximum leverage or price band (portfolio margin has no
  per-market leverage): ``min_order_qty`` is one size step, ``max_leverage`` is 0 ("not
  published"; OCX takes no leverage on orders), the bands are None.
- Maker/taker fees are the lowest tier of ``GET /perps/fees`` (the personal rate is in preview).
- There is no funding history: :meth:`OCXPublic.funding_history` gives the current 1-hour rate
  (``funding1hPct`` / 100) as one point, for the caller to record hour by hour.
- No public stream carries perp marks: :class:`OCXMarkFeed` polls ``GET /perps/markets``.

The account side (the tiered read, writes by credential tier, linking by pasted keys) is in
:mod:`venues.ocx_account`; the adapter below delegates to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from ocx import errors as ocx_errors
from ocx import models as ox
from ocx.rest import OCXClient
from venues import errors, ocx_account
from venues.account import Linked, LinkField, LinkMode, SignedCheck, WalletChallenge
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
from venues.ocx_common import KEY, NAME, translate, translated

__all__ = ["KEY", "NAME", "translate", "translated"]
T = TypeVar("T")
QUOTE_DECIMALS = 6  # USDC
RESOLUTIONS = {
    "1": "1",
    "5": "5",
    "15": "15",
    "30": "30",
    "60": "60",
    "240": "240",
    "1D": "D",
    "D": "D",
}

CAPABILITIES = Capabilities(
    kinds=frozenset({Kind.PERP, Kind.FUTURE}),  # options and spot come with a later issue
    time_in_force=frozenset({"gtc", "ioc", "fok"}),
    post_only="flag",
    order_types=frozenset({"limit", "market"}),
    native_preview=True,
    native_cancel_all=True,  # scoped by market, quote, client order id or margin mode
    native_close=True,
    batch_orders_max=0,  # bulk quotes exist, but only as post-only ladders
    set_leverage=False,  # portfolio margin: orders carry no leverage
    set_margin_mode=False,  # chosen per order (marginMode), not set on a market
    add_isolated_margin=False,
    bucket_transfer=True,
    risk_model=RiskModel.REPORTED,
    funding_source="rebuild_from_rates",  # no per-user funding endpoint is documented
    order_outcome="response",  # the order comes back with its fills and position
    mark_feed="poll",
    account_events=True,  # the SSE user stream
)
# The order path: 120 a minute per OCX user (2/s). Reads are not limited by OCX; we keep them
# at 5/s per account and plan the sync at 30/s across the venue (venues.md §2.6).
RATE_BUDGET = RateBudget(
    buckets=(RateBucket("user", 120, 2.0), RateBucket("account", 5, 5.0)),
    sync_per_second=30.0,
)


def endpoints(api_url: str) -> Endpoints:
    """OCX serves everything (REST, SSE) through one gateway origin."""
    return Endpoints({"api": api_url.rstrip("/")})


def endpoints_for_simulator(base_url: str) -> Endpoints:
    """``python -m ocx_sim`` serves the same paths on its one origin."""
    return endpoints(base_url)


def expiry(instrument_symbol: str, markets: list[ox.Market] | None = None) -> datetime | None:
    """A dated future's expiry (the market's ``expiresAt`` when given, else its id's date)."""
    for market in markets or []:
        if market.id == instrument_symbol:
            return market.expires_at
    return ox.expiry_from_id(instrument_symbol)


def _kind(market: ox.Market) -> Kind:
    if market.is_future:
        return Kind.FUTURE
    return Kind.SPOT if market.market_type == "spot" else Kind.PERP


@dataclass
class OCXPublic:
    """OCX's public market data through one client (no credentials)."""

    client: OCXClient
    venue: str = KEY

    def __enter__(self) -> OCXPublic:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def _call(self, fn: Callable[[], T]) -> T:
        with translated():
            return fn()

    def markets(self) -> list[ox.Market]:
        return self._call(self.client.markets)

    def instruments(self) -> list[Instrument]:
        markets = self.markets()
        tiers = self._call(self.client.fees)
        base = min(tiers, key=lambda t: t.min_30d_volume_usd) if tiers else None
        maker = base.maker_bps / 10000 if base else Decimal(0)
        taker = base.taker_bps / 10000 if base else Decimal(0)
        return [
            Instrument(
                symbol=m.id,
                kind=_kind(m),
                base_asset=m.base,
                quote_asset=m.quote,
                price_tick_decimals=m.price_decimals,
                qty_tick_decimals=m.size_decimals,
                quote_decimals=QUOTE_DECIMALS,
                min_order_qty=Decimal(1).scaleb(-m.size_decimals),
                max_order_qty=None,
                max_leverage=Decimal(0),
                maker_fee=maker,
                taker_fee=taker,
                price_cap_ratio=None,
                price_floor_ratio=None,
                enabled=True,
                status="trading",
                underlying=m.base if m.is_future else "",
                expiry=expiry(m.id, markets) if m.is_future else None,
            )
            for m in markets
            if _kind(m) in CAPABILITIES.kinds
        ]

    def quote(self, symbol: str) -> Quote:
        stats = self._call(lambda: self.client.market_stats(symbol))
        return Quote(
            symbol=symbol,
            mark_price=stats.mark_price,
            index_price=stats.index_price,
            last_price=None,
            funding_rate=stats.funding_rate_1h,
            next_funding_time=stats.next_funding_at or _next_hour(datetime.now(UTC)),
        )

    def funding_history(
        self, symbol: str, since: datetime, until: datetime
    ) -> list[FundingRatePoint]:
        """OCX publishes no history: the current rate, stamped this hour, if in range."""
        stats = self._call(lambda: self.client.market_stats(symbol))
        rate = stats.funding_rate_1h
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        if rate is None or not since <= hour <= until:
            return []
        return [FundingRatePoint(symbol, hour, rate, stats.mark_price, stats.index_price)]

    def candles(
        self, symbol: str, resolution: str, start: datetime, end: datetime, countback: int
    ) -> list[Candle]:
        step = RESOLUTIONS.get(resolution)
        if step is None:
            raise errors.BadInput(NAME, f"OCX has no {resolution} candles")
        bars = self._call(lambda: self.client.ohlc(symbol, step, start, end))
        return [Candle(c.time, c.open, c.high, c.low, c.close, c.volume) for c in bars][-countback:]

    def mark(self, symbol: str) -> Mark:
        stats = self._call(lambda: self.client.market_stats(symbol))
        return Mark(symbol, stats.mark_price, stats.index_price, None)


def _next_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


class OCXMarkFeed:
    """Marks by polling ``GET /perps/markets`` (every linear market's mark in one call): a
    :class:`Mark` for each watched symbol whose mark moved, a notice when polling fails and when
    it recovers."""

    def __init__(self, client: OCXClient, interval: float = 1.0) -> None:
        self.client = client
        self.interval = interval
        self._watched: set[str] = set()
        self._last: dict[str, Decimal | None] = {}
        self._closed = False

    def watch(self, symbol: str) -> None:
        self._watched.add(symbol)

    async def events(self) -> AsyncIterator[Mark | FeedNotice]:
        failing = False
        while not self._closed:
            try:
                markets = await asyncio.to_thread(self.client.markets)
            except ocx_errors.OCXError as exc:
                if not failing:
                    yield FeedNotice("refused", f"polling OCX's markets failed: {exc.message}")
                failing = True
            else:
                if failing:
                    yield FeedNotice("reconnected", "polling OCX's markets works again")
                failing = False
                for market in markets:
                    if (
                        market.id in self._watched
                        and self._last.get(market.id) != market.mark_price
                    ):
                        self._last[market.id] = market.mark_price
                        yield Mark(market.id, market.mark_price, None, None)
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        self._closed = True


class OCXAdapter:
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
    ) -> OCXPublic:
        client = OCXClient(endpoints["api"], limiter=limiter, timeout=timeout, max_retries=retries)
        return OCXPublic(client)

    def mark_feed(self, endpoints: Endpoints) -> OCXMarkFeed:
        return OCXMarkFeed(OCXClient(endpoints["api"]))

    # -- accounts (venues.ocx_account) ---------------------------------------------------------

    link_fields: tuple[LinkField, ...] = ocx_account.LINK_FIELDS

    def planned_requests(self, *, full_due: bool, idle: bool) -> int:
        return ocx_account.planned_requests(full_due=full_due, idle=idle)

    def account(
        self,
        endpoints: Endpoints,
        secrets: Mapping[str, str],
        *,
        limiter: Any = None,
        retries: int | None = None,
    ) -> ocx_account.OCXAccountSession:
        """A session on one linked account; ``limiter`` (the sync's) paces and counts its reads
        (OCX's order path keeps its own budget)."""
        return ocx_account.session_for(endpoints["api"], secrets, limiter=limiter, retries=retries)

    def link_identity(self, fields: Mapping[str, str]) -> str | None:
        return None  # a key names its account only when OCX is asked

    def link_pasted(
        self, endpoints: Endpoints, fields: Mapping[str, str], check: SignedCheck | None = None
    ) -> Linked:
        return ocx_account.link_pasted(endpoints["api"], fields, check)

    # A wallet sign-in in the trader's browser that mints keys (venues.account.KeyMintLink).
    mint_modes: tuple[LinkMode, ...] = ocx_account.MINT_MODES
    keys_path = ocx_account.KEYS_PATH

    def mint_begin(self, endpoints: Endpoints, address: str) -> WalletChallenge:
        return ocx_account.mint_begin(endpoints["api"], address)

    def mint_sign_in(
        self, endpoints: Endpoints, state: Mapping[str, str], signature: str
    ) -> ocx_account.OCXMintSession:
        return ocx_account.mint_sign_in(endpoints["api"], state, signature)

    def minted_revoke(
        self, endpoints: Endpoints, secrets: Mapping[str, str], key_ids: list[str]
    ) -> None:
        ocx_account.minted_revoke(endpoints["api"], secrets, key_ids)


ADAPTER = OCXAdapter()

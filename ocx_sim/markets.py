"""Markets: three perpetuals and a weekly dated BTC future, priced off one index per underlying.

A perpetual's mark is its underlying's index. A dated future's mark is the index times
``1 + basis × years to expiry`` (5 % a year), so it converges on the index and settles at it.
The index takes a seeded random walk each tick (unless paused); scenarios move it on purpose.
Each perpetual carries a 1-hour funding rate, re-drawn every hour from the seeded generator.
The synthetic book is ten levels a side around the mark, one basis point of half-spread (at
least one tick), with the users' resting orders added on top.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from ocx_sim.money import ONE, ZERO

BASIS_PER_YEAR = Decimal("0.05")
HALF_SPREAD = Decimal("0.0001")
FUTURE_DAYS = 7
MINUTE = 60


@dataclass(frozen=True)
class Underlying:
    symbol: str
    start_price: Decimal
    step_vol: Decimal  # relative standard deviation of one tick's move


UNDERLYINGS = {
    "BTC": Underlying("BTC", Decimal("68000"), Decimal("0.0004")),
    "ETH": Underlying("ETH", Decimal("3500"), Decimal("0.0005")),
    "SOL": Underlying("SOL", Decimal("150"), Decimal("0.0007")),
}
DECIMALS = {"BTC": (1, 4), "ETH": (2, 3), "SOL": (3, 2)}  # (price, size) decimals


@dataclass
class Market:
    market_id: str
    market_type: str  # "perp" or "future"
    base: str
    price_decimals: int
    size_decimals: int
    expiry: datetime | None = None
    status: str = "active"  # "active", then "expired" once settled
    funding_1h: Decimal = Decimal("0.0000125")
    settlement_price: Decimal | None = None
    candles: dict[int, list[Decimal]] = field(default_factory=dict)  # minute → o, h, l, c, v
    volume_24h: Decimal = ZERO

    @property
    def price_tick(self) -> Decimal:
        return Decimal(1).scaleb(-self.price_decimals)

    @property
    def size_tick(self) -> Decimal:
        return Decimal(1).scaleb(-self.size_decimals)

    @property
    def index_market_id(self) -> str:
        return f"{self.base}-USDC-SPOT"


def future_id(base: str, expiry: datetime) -> str:
    return f"{base}-USDC-{expiry:%Y-%m-%d}"


def next_expiry(after: datetime) -> datetime:
    """08:00 UTC, ``FUTURE_DAYS`` days after ``after``'s date."""
    day = (after + timedelta(days=FUTURE_DAYS)).replace(hour=8, minute=0, second=0, microsecond=0)
    return day


class MarketBook:
    """Every market and the index per underlying."""

    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(f"markets-{seed}")  # noqa: S311 - simulation, not security
        self.index = {u.symbol: u.start_price for u in UNDERLYINGS.values()}
        self.index_24h = dict(self.index)
        self.markets: dict[str, Market] = {}
        for base in UNDERLYINGS:
            self.add(Market(f"{base}-PERP", "perp", base, *DECIMALS[base]))
        self.list_future("BTC", now)
        # Scenario moves per underlying: (target factor, seconds left), applied tick by tick.
        self.moves: dict[str, tuple[Decimal, float]] = {}

    def add(self, market: Market) -> Market:
        self.markets[market.market_id] = market
        return market

    def list_future(self, base: str, now: datetime) -> Market:
        expiry = next_expiry(now)
        return self.add(Market(future_id(base, expiry), "future", base, *DECIMALS[base], expiry))

    def active(self) -> list[Market]:
        return [m for m in self.markets.values() if m.status == "active"]

    def mark(self, market: Market, now: datetime) -> Decimal:
        if market.settlement_price is not None:
            return market.settlement_price
        index = self.index[market.base]
        if market.market_type == "future" and market.expiry is not None:
            years = Decimal(max(0.0, (market.expiry - now).total_seconds()) / (365 * 86400))
            index = index * (ONE + BASIS_PER_YEAR * years)
        return index.quantize(market.price_tick, rounding=ROUND_HALF_UP)

    def best(self, market: Market, now: datetime) -> tuple[Decimal, Decimal]:
        """(best bid, best ask) of the synthetic book."""
        mark = self.mark(market, now)
        half = max((mark * HALF_SPREAD).quantize(market.price_tick, ROUND_DOWN), market.price_tick)
        return mark - half, mark + half

    def levels(
        self, market: Market, now: datetime, depth: int = 10
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        bid, ask = self.best(market, now)
        tick = market.price_tick
        size = (Decimal(250000) / self.mark(market, now)).quantize(market.size_tick, ROUND_DOWN)
        bids = [(bid - tick * i, size * (i + 1)) for i in range(depth)]
        asks = [(ask + tick * i, size * (i + 1)) for i in range(depth)]
        return bids, asks

    def set_mark(self, market: Market, price: Decimal, now: datetime) -> None:
        """Move the underlying's index so that ``market``'s mark becomes ``price``."""
        current = self.mark(market, now)
        base = market.base
        self.index[base] = self.index[base] * price / current if current else price

    def walk(self, paused: bool) -> None:
        for base, spec in UNDERLYINGS.items():
            factor = ONE
            if not paused:
                factor += Decimal(str(round(self.rng.gauss(0, 1), 6))) * spec.step_vol
            move = self.moves.get(base)
            if move is not None:
                target, ticks = move
                step = target ** (ONE / Decimal(max(ticks, 1)))
                factor *= step
                self.moves[base] = (target / step, ticks - 1)
                if ticks <= 1:
                    del self.moves[base]
            self.index[base] = (self.index[base] * factor).quantize(Decimal("0.0001"))

    def record(self, now: datetime) -> None:
        minute = int(now.timestamp()) // MINUTE * MINUTE
        for market in self.active():
            price = self.mark(market, now)
            bar = market.candles.get(minute)
            if bar is None:
                market.candles[minute] = [price, price, price, price, ZERO]
            else:
                bar[1], bar[2], bar[3] = max(bar[1], price), min(bar[2], price), price

    def backfill(self, now: datetime, minutes: int) -> None:
        """A seeded history of one-minute candles ending now (the walk run backwards)."""
        for market in self.active():
            price = self.mark(market, now)
            vol = UNDERLYINGS[market.base].step_vol * 3
            start = int(now.timestamp()) // MINUTE * MINUTE
            for i in range(1, minutes + 1):
                drift = ONE + Decimal(str(round(self.rng.gauss(0, 1), 6))) * vol
                close = price.quantize(market.price_tick)
                open_ = (price / drift).quantize(market.price_tick)
                high, low = max(open_, close), min(open_, close)
                market.candles[start - i * MINUTE] = [open_, high, low, close, Decimal("1.5")]
                price = open_

    def draw_funding(self, market: Market) -> None:
        noise = Decimal(str(round(self.rng.gauss(0, 1), 4))) * Decimal("0.00001")
        market.funding_1h = (Decimal("0.0000125") + noise).quantize(Decimal("0.0000001"))

"""Listed markets and their prices: a seeded random walk, scenarios, a synthetic book, candles.

Every market is a linear USDC-settled perpetual. The index follows a geometric random walk (one
step per engine tick); the mark is the index times a small mean-reverting premium. A scenario
moves the walk by ``pct`` percent over ``seconds`` (linearly in log space) and then stays there.
``paused`` freezes the random parts; scenarios and prices set through the control API still
apply. The book is synthetic: levels around the mark, rebuilt every tick, never exhausted.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from perpex_sim.errors import ApiError, invalid
from perpex_sim.margin import maintenance_rate
from perpex_sim.money import ONE, ZERO, fmt

INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
SCENARIOS = ("crash", "pump", "drift")
DEFAULT_PCT = {"crash": Decimal(-10), "pump": Decimal(10), "drift": Decimal(-5)}
HOURLY_INTEREST = Decimal("0.0000125")  # 0.01 % per 8 h, as Hyperliquid charges
FUNDING_CAP = Decimal("0.04")  # per hour
CANDLE_HISTORY = 600


@dataclass(frozen=True)
class MarketSpec:
    symbol: str
    base: str
    start_price: Decimal
    tick_size: Decimal
    lot_size: Decimal
    max_leverage: int
    volatility: float  # standard deviation of one tick's log return
    maker_fee: Decimal = Decimal("0.00015")
    taker_fee: Decimal = Decimal("0.00045")

    @property
    def min_qty(self) -> Decimal:
        return self.lot_size

    @property
    def maintenance_rate(self) -> Decimal:
        return maintenance_rate(self.max_leverage)

    @property
    def default_leverage(self) -> int:
        return min(10, self.max_leverage)


SPECS: dict[str, MarketSpec] = {
    s.symbol: s
    for s in (
        MarketSpec("BTC-USD", "BTC", Decimal(100000), Decimal(1), Decimal("0.0001"), 40, 0.0002),
        MarketSpec("ETH-USD", "ETH", Decimal(3500), Decimal("0.1"), Decimal("0.001"), 25, 0.00025),
        MarketSpec("SOL-USD", "SOL", Decimal(180), Decimal("0.01"), Decimal("0.01"), 20, 0.0003),
        MarketSpec("HYPE-USD", "HYPE", Decimal(40), Decimal("0.001"), Decimal("0.1"), 10, 0.0004),
    )
}


def spec_for(symbol: Any) -> MarketSpec:
    if not isinstance(symbol, str) or not symbol:
        raise invalid("symbol is required")
    spec = SPECS.get(symbol)
    if spec is None:
        raise ApiError(400, "INVALID_SYMBOL", f"unknown symbol {symbol[:40]!r}")
    return spec


@dataclass
class Scenario:
    start: float  # engine seconds
    seconds: float
    log_move: float

    def factor(self, now: float) -> tuple[float, bool]:
        progress = 1.0 if self.seconds <= 0 else min(1.0, (now - self.start) / self.seconds)
        return math.exp(self.log_move * progress), progress >= 1.0


@dataclass
class Market:
    spec: MarketSpec
    rng: random.Random
    walk: float = 0.0
    premium: float = 0.0
    index: Decimal = ZERO
    mark: Decimal = ZERO
    last_price: Decimal | None = None
    scenario: Scenario | None = None
    funding_override: Decimal | None = None
    last_funding: tuple[int, Decimal, Decimal] | None = None  # settled: time (ms), rate, mark
    candles: dict[int, list[Decimal]] = field(default_factory=dict)  # minute -> o, h, l, c, v
    premiums: deque[float] = field(default_factory=lambda: deque(maxlen=120))
    volume_24h: Decimal = ZERO

    def set_price(self, price: Decimal) -> None:
        if price <= 0:
            raise invalid("mark_price must be positive")
        self.walk = float(price)
        self.premium = 0.0
        self.scenario = None
        self._reprice(self.walk)

    def start_scenario(self, name: str, pct: Decimal | None, seconds: float, now: float) -> None:
        if name not in SCENARIOS:
            raise invalid(f"unknown scenario {name[:40]!r}; one of {', '.join(SCENARIOS)}")
        move = DEFAULT_PCT[name] if pct is None else pct
        if move <= -100:
            raise invalid("pct must be greater than -100")
        if seconds < 0:
            raise invalid("seconds must be >= 0")
        self._fold(now)
        self.scenario = Scenario(now, seconds, math.log(1 + float(move) / 100))

    def _fold(self, now: float) -> None:
        if self.scenario is not None:
            factor, _ = self.scenario.factor(now)
            self.walk *= factor
            self.scenario = None

    def step(self, now: float, paused: bool) -> None:
        if not paused:
            self.walk *= math.exp(self.rng.gauss(0.0, self.spec.volatility))
            self.premium = max(-0.001, min(0.001, self.premium * 0.8 + self.rng.gauss(0, 4e-5)))
        price = self.walk
        if self.scenario is not None:
            factor, done = self.scenario.factor(now)
            if done:
                self._fold(now)
                price = self.walk
            else:
                price = self.walk * factor
        self._reprice(price)

    def _reprice(self, price: float) -> None:
        tick = self.spec.tick_size
        self.index = Decimal(f"{price:.8f}").quantize(tick / 100)
        self.mark = Decimal(f"{price * (1 + self.premium):.8f}").quantize(tick, ROUND_HALF_UP)
        if self.mark <= 0:
            self.mark = tick
        self.premiums.append(self.premium)

    # -- book -----------------------------------------------------------------------------------

    def half_spread(self) -> Decimal:
        return max(
            self.spec.tick_size, (self.mark * Decimal("0.00005")).quantize(self.spec.tick_size)
        )

    def best_bid(self) -> Decimal:
        return (self.mark - self.half_spread()).quantize(self.spec.tick_size, ROUND_FLOOR)

    def best_ask(self) -> Decimal:
        return (self.mark + self.half_spread()).quantize(self.spec.tick_size, ROUND_CEILING)

    def book(self, depth: int) -> dict[str, list[list[str]]]:
        tick, lot = self.spec.tick_size, self.spec.lot_size
        step = max(tick, (self.mark * Decimal("0.0001")).quantize(tick))
        bids, asks = [], []
        # Sizes come from the level's position and price, not the rng: reading the book must
        # not change what the seeded walk does next.
        for i in range(depth):
            size = lot * 100 * (1 + i // 3) * (1 + (int(self.mark / tick) + i) % 7)
            bid = self.best_bid() - step * i
            if bid > 0:
                bids.append([fmt(bid), fmt(size)])
            asks.append([fmt(self.best_ask() + step * i), fmt(size)])
        return {"bids": bids, "asks": asks}

    # -- candles and trades ---------------------------------------------------------------------

    def record(self, when: datetime, price: Decimal, size: Decimal) -> None:
        minute = int(when.timestamp()) // 60
        bar = self.candles.get(minute)
        if bar is None:
            bar = self.candles[minute] = [price, price, price, price, ZERO]
            for old in [m for m in self.candles if m < minute - CANDLE_HISTORY]:
                del self.candles[old]
        bar[1], bar[2], bar[3] = max(bar[1], price), min(bar[2], price), price
        bar[4] += size
        if size:
            self.last_price = price
            self.volume_24h += size

    def synthetic_trades(self, paused: bool) -> list[tuple[str, Decimal, Decimal]]:
        """A few prints near the mark each tick (none while paused): (side, price, size)."""
        if paused:
            return []
        out = []
        for _ in range(self.rng.randint(0, 2)):
            side = "buy" if self.rng.random() < 0.5 else "sell"
            price = self.best_ask() if side == "buy" else self.best_bid()
            size = self.spec.lot_size * self.rng.randint(1, 50)
            out.append((side, price, size))
        return out

    def candle_list(self, interval: str, limit: int) -> list[dict[str, Any]]:
        seconds = INTERVALS[interval]
        buckets: dict[int, list[Decimal]] = {}
        for minute in sorted(self.candles):
            o, h, low, c, v = self.candles[minute]
            start = minute * 60 // seconds * seconds
            bar = buckets.get(start)
            if bar is None:
                buckets[start] = [o, h, low, c, v]
            else:
                bar[1], bar[2], bar[3], bar[4] = max(bar[1], h), min(bar[2], low), c, bar[4] + v
        rows = sorted(buckets.items())[-limit:]
        return [
            {
                "time": start * 1000,
                "open": fmt(o),
                "high": fmt(h),
                "low": fmt(low),
                "close": fmt(c),
                "volume": fmt(v),
            }
            for start, (o, h, low, c, v) in rows
        ]

    # -- funding --------------------------------------------------------------------------------

    def funding_rate(self) -> Decimal:
        """The hourly rate that the next settlement will apply (premium average + interest)."""
        if self.funding_override is not None:
            return self.funding_override
        premium = sum(self.premiums) / len(self.premiums) if self.premiums else 0.0
        rate = Decimal(f"{premium / 8:.10f}") + HOURLY_INTEREST
        return max(-FUNDING_CAP, min(FUNDING_CAP, rate)).quantize(Decimal("1e-10"))

    def backfill(self, now: datetime, minutes: int) -> None:
        """Candles for the last ``minutes`` from a seeded walk that ends at today's price."""
        price = float(self.mark)
        closes = [price]
        for _ in range(minutes):
            price /= math.exp(self.rng.gauss(0.0, self.spec.volatility * 8))
            closes.append(price)
        closes.reverse()
        tick = self.spec.tick_size
        first = int(now.timestamp()) // 60 - minutes
        for i in range(minutes):
            o = Decimal(f"{closes[i]:.8f}").quantize(tick)
            c = Decimal(f"{closes[i + 1]:.8f}").quantize(tick)
            spread = abs(c - o) / 2 + tick
            size = self.spec.lot_size * self.rng.randint(10, 500)
            self.candles[first + i] = [
                o,
                max(o, c) + spread,
                max(tick, min(o, c) - spread),
                c,
                size,
            ]

    def view(self, now_ms: int, next_funding_ms: int, open_interest: Decimal) -> dict[str, Any]:
        """The ``GET /api/v1/markets`` item."""
        spec = self.spec
        return {
            "symbol": spec.symbol,
            "baseAsset": spec.base,
            "quoteAsset": "USD",
            "settleAsset": "USDC",
            "status": "trading",
            "tickSize": fmt(spec.tick_size),
            "lotSize": fmt(spec.lot_size),
            "minQty": fmt(spec.min_qty),
            "maxLeverage": spec.max_leverage,
            "maintenanceMarginRate": fmt(spec.maintenance_rate),
            "makerFee": fmt(spec.maker_fee),
            "takerFee": fmt(spec.taker_fee),
            "markPrice": fmt(self.mark),
            "indexPrice": fmt(self.index),
            "lastPrice": None if self.last_price is None else fmt(self.last_price),
            "fundingRate": fmt(self.funding_rate()),
            "fundingInterval": 3600,
            "nextFundingTime": next_funding_ms,
            **self._last_funding_view(),
            "openInterest": fmt(open_interest),
            "volume24h": fmt(self.volume_24h),
            "time": now_ms,
        }

    def _last_funding_view(self) -> dict[str, Any]:
        if self.last_funding is None:
            return {"lastFundingTime": None, "lastFundingRate": None, "lastFundingPrice": None}
        at, rate, mark = self.last_funding
        return {"lastFundingTime": at, "lastFundingRate": fmt(rate), "lastFundingPrice": fmt(mark)}


def new_markets(seed: int) -> dict[str, Market]:
    markets = {}
    for index, spec in enumerate(SPECS.values()):
        market = Market(spec, random.Random(f"perpex-market-{seed}-{index}"))  # noqa: S311
        market.set_price(spec.start_price)
        markets[spec.symbol] = market
    return markets


def clamp_unit(value: Decimal) -> Decimal:
    return max(ZERO, min(ONE, value))

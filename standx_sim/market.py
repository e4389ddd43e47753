"""Per-symbol market state: index/mark processes, scenarios, synthetic book, klines, funding.

The index follows a seeded geometric random walk (one step per engine tick); the mark is the
index times a small mean-reverting premium. A scenario multiplies the walk by a time-shaped
factor (crash, pump, squeeze, flash_crash, drift, volatile) and folds its final factor into the
walk when it ends. `paused` freezes the random parts only; scenarios keep running.

The order book is synthetic: fresh levels around the mark every tick, consumed by taker fills
until the next tick. User orders never match each other; they trade with this liquidity.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from standx_sim.clock import iso, iso_seconds, next_hour
from standx_sim.errors import ApiError
from standx_sim.money import ONE, ZERO, fmt, to_tick
from standx_sim.symbols import SymbolSpec

INDEX_EXP = Decimal("1e-6")
WALK_EXP = Decimal("1e-10")
RATE_EXP = Decimal("1e-8")
FUNDING_INTEREST = Decimal("0.0000125")  # 0.00125 % per hour (StandX funding docs)
FUNDING_CLAMP = Decimal("0.0005")
FUNDING_CAP = Decimal("0.04")
BOOK_LEVELS = 20
SCENARIOS = ("crash", "dump", "pump", "squeeze", "flash_crash", "drift", "volatile")
DEFAULT_PCT = {
    "crash": Decimal(-10),
    "dump": Decimal(-10),
    "pump": Decimal(10),
    "squeeze": Decimal(15),
    "flash_crash": Decimal(-10),
    "drift": Decimal(-5),
    "volatile": Decimal(0),
}
RESOLUTION_SECONDS = {
    "1": 60,
    "5": 300,
    "15": 900,
    "30": 1800,
    "60": 3600,
    "240": 14400,
    "1D": 86400,
    "D": 86400,
    "1W": 604800,
    "W": 604800,
    "1M": 2592000,
    "M": 2592000,
}


@dataclass
class Scenario:
    name: str
    pct: Decimal
    seconds: float
    started: float  # engine time (monotonic seconds)

    def factor(self, now: float) -> tuple[Decimal, bool]:
        """(multiplier on the walk, finished?) at engine time `now`."""
        progress = 1.0 if self.seconds <= 0 else min(1.0, (now - self.started) / self.seconds)
        target = 1.0 + float(self.pct) / 100.0
        if self.name == "squeeze":
            # Up fast over 70 % of the time, then give back a third of the move.
            peak = 1.0 + float(self.pct) / 100.0
            if progress < 0.7:
                value = peak ** (progress / 0.7)
            else:
                value = peak * (1.0 - (peak - 1.0) / 3.0 / peak * (progress - 0.7) / 0.3)
        elif self.name == "flash_crash":
            # Down over the first 20 %, back to the start by the end.
            value = (
                target ** (progress / 0.2)
                if progress < 0.2
                else (target + (1.0 - target) * (progress - 0.2) / 0.8)
            )
        elif self.name == "volatile":
            value = 1.0
        else:
            value = target**progress
        finished = progress >= 1.0
        if finished and self.name == "flash_crash":
            value = 1.0
        return Decimal(f"{value:.10f}"), finished


@dataclass
class Level:
    price: Decimal
    qty: Decimal


@dataclass
class Market:
    spec: SymbolSpec
    rng: random.Random
    walk: Decimal = ZERO
    premium: Decimal = ZERO
    index: Decimal = ZERO
    mark: Decimal = ZERO
    last_price: Decimal | None = None
    scenario: Scenario | None = None
    vol_multiplier: float = 1.0
    bids: list[Level] = field(default_factory=list)
    asks: list[Level] = field(default_factory=list)
    recent_trades: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))
    bars: dict[int, list[Decimal]] = field(default_factory=dict)  # minute -> [o, h, l, c, v]
    ticks: deque[tuple[float, Decimal, Decimal]] = field(default_factory=lambda: deque(maxlen=7200))
    premium_samples: deque[Decimal] = field(default_factory=lambda: deque(maxlen=720))
    funding_history: list[dict[str, Any]] = field(default_factory=list)
    funding_override: Decimal | None = None
    stats: dict[str, Decimal] = field(default_factory=dict)
    stats_minute: int = -1
    # `query_symbol_info.status`: "trading" while listed; anything else (e.g. "halt",
    # "delisted", set through `POST /sim/symbol-status`) makes new orders refused.
    status: str = "trading"

    # -- prices ---------------------------------------------------------------------------

    def set_price(self, price: Decimal) -> None:
        """Set index and mark to `price` now (control API); clears premium and scenario."""
        if price <= 0:
            raise ApiError(400, "mark_price must be positive")
        self.walk = price
        self.premium = ZERO
        self.scenario = None
        self.index = price.quantize(INDEX_EXP)
        self.mark = to_tick(price, self.spec.price_tick)

    def step(self, now: float, paused: bool) -> None:
        """Advance one tick: random walk (unless paused), scenario factor, new mark, new book."""
        if not paused:
            shock = self.rng.gauss(0.0, float(self.spec.volatility) * self.vol_multiplier)
            self.walk = (self.walk * Decimal(f"{math.exp(shock):.12f}")).quantize(WALK_EXP)
            noise = Decimal(f"{self.rng.gauss(0.0, 0.00004):.8f}")
            self.premium = max(
                Decimal("-0.001"), min(Decimal("0.001"), self.premium * Decimal("0.8") + noise)
            )
        factor = ONE
        if self.scenario is not None:
            factor, finished = self.scenario.factor(now)
            if finished:
                self.walk = (self.walk * factor).quantize(WALK_EXP)
                factor = ONE
                self.scenario = None
                self.vol_multiplier = 1.0
        raw = self.walk * factor
        self.index = raw.quantize(INDEX_EXP)
        self.mark = to_tick(raw * (ONE + self.premium), self.spec.price_tick)
        self.premium_samples.append((self.mark - self.index) / self.index)
        self.rebuild_book()

    def start_scenario(self, name: str, pct: Decimal | None, seconds: float, now: float) -> None:
        if name not in SCENARIOS:
            raise ApiError(400, f"unknown scenario {name!r}; one of {', '.join(SCENARIOS)}")
        if seconds < 0:
            raise ApiError(400, "seconds must be >= 0")
        if self.scenario is not None:
            # Fold a running scenario in where it stands so prices stay continuous.
            factor, _ = self.scenario.factor(now)
            self.walk = (self.walk * factor).quantize(WALK_EXP)
        chosen = DEFAULT_PCT[name] if pct is None else pct
        if chosen <= -100:
            raise ApiError(400, "pct must be greater than -100")
        self.vol_multiplier = 5.0 if name == "volatile" else 1.0
        self.scenario = Scenario(name, chosen, seconds, now)

    # -- book -----------------------------------------------------------------------------

    def rebuild_book(self) -> None:
        tick = self.spec.price_tick
        mark = self.mark
        half_spread = max(tick, to_tick(mark * Decimal("0.00005"), tick))
        step = max(tick, to_tick(mark * Decimal("0.0001"), tick))
        best_bid = (mark - half_spread).quantize(tick, rounding=ROUND_FLOOR)
        best_ask = (mark + half_spread).quantize(tick, rounding=ROUND_CEILING)
        unit = self.spec.min_order_qty * 100
        qty_tick = self.spec.qty_tick
        self.bids = []
        self.asks = []
        for i in range(BOOK_LEVELS):
            depth = Decimal(1 + i // 4)
            bid_qty = (unit * depth * Decimal(f"{0.2 + self.rng.random() * 1.8:.4f}")).quantize(
                qty_tick
            )
            ask_qty = (unit * depth * Decimal(f"{0.2 + self.rng.random() * 1.8:.4f}")).quantize(
                qty_tick
            )
            bid_price = best_bid - step * i
            if bid_price > 0:
                self.bids.append(Level(bid_price, max(bid_qty, self.spec.min_order_qty)))
            self.asks.append(Level(best_ask + step * i, max(ask_qty, self.spec.min_order_qty)))

    def best_bid(self) -> Decimal:
        return self.bids[0].price if self.bids else self.mark

    def best_ask(self) -> Decimal:
        return self.asks[0].price if self.asks else self.mark

    def would_take(self, side: str, price: Decimal) -> bool:
        return price >= self.best_ask() if side == "buy" else price <= self.best_bid()

    def take(self, side: str, qty: Decimal, limit: Decimal | None) -> list[tuple[Decimal, Decimal]]:
        """Consume book levels for a taker order; returns (price, qty) fills, maybe partial."""
        levels = self.asks if side == "buy" else self.bids
        fills: list[tuple[Decimal, Decimal]] = []
        remaining = qty
        while remaining > 0 and levels:
            level = levels[0]
            if limit is not None and (
                level.price > limit if side == "buy" else level.price < limit
            ):
                break
            take = min(remaining, level.qty)
            fills.append((level.price, take))
            remaining -= take
            level.qty -= take
            if level.qty <= 0:
                levels.pop(0)
        return fills

    def depth(self) -> tuple[list[list[str]], list[list[str]]]:
        return (
            [[fmt(lv.price), fmt(lv.qty)] for lv in self.asks],
            [[fmt(lv.price), fmt(lv.qty)] for lv in self.bids],
        )

    # -- trades, bars, stats --------------------------------------------------------------

    def record_trade(
        self, price: Decimal, qty: Decimal, is_buyer_taker: bool, when: datetime, now: float
    ) -> dict[str, Any]:
        self.last_price = price
        trade = {
            "is_buyer_taker": is_buyer_taker,
            "price": fmt(price),
            "qty": fmt(qty),
            "quote_qty": fmt(price * qty),
            "symbol": self.spec.symbol,
            "time": iso(when),
        }
        self.recent_trades.appendleft(trade)
        self.ticks.append((now, price, qty))
        bar = self._bar(int(when.timestamp()) // 60, price)
        bar[4] += qty
        return trade

    def synthetic_trades(self, when: datetime, now: float) -> list[dict[str, Any]]:
        """A few public prints at the touch so the tape and `last_price` stay alive."""
        out = []
        for _ in range(self.rng.choice((0, 1, 1, 2, 3))):
            buyer = self.rng.random() < 0.5
            price = self.best_ask() if buyer else self.best_bid()
            qty = (self.spec.min_order_qty * self.rng.randint(1, 50)).quantize(self.spec.qty_tick)
            out.append(self.record_trade(price, qty, buyer, when, now))
        return out

    def _bar(self, minute: int, price: Decimal) -> list[Decimal]:
        bar = self.bars.get(minute)
        if bar is None:
            bar = [price, price, price, price, ZERO]
            self.bars[minute] = bar
        return bar

    def record_mark(self, when: datetime) -> None:
        bar = self._bar(int(when.timestamp()) // 60, self.mark)
        bar[1] = max(bar[1], self.mark)
        bar[2] = min(bar[2], self.mark)
        bar[3] = self.mark

    def backfill(self, now: datetime, minutes: int) -> None:
        """Seeded history ending at the current mark: 1-minute bars and hourly funding rates."""
        end_minute = int(now.timestamp()) // 60
        price = float(self.mark)
        vol = float(self.spec.volatility) * 6
        unit = float(self.spec.min_order_qty) * 400
        tick = self.spec.price_tick
        for minute in range(end_minute - 1, end_minute - minutes - 1, -1):
            close = price
            open_ = close * math.exp(self.rng.gauss(0.0, vol))
            high = max(open_, close) * (1 + abs(self.rng.gauss(0.0, vol / 3)))
            low = min(open_, close) * (1 - abs(self.rng.gauss(0.0, vol / 3)))
            volume = unit * (0.5 + self.rng.random())
            self.bars[minute] = [
                to_tick(Decimal(f"{open_:.6f}"), tick),
                to_tick(Decimal(f"{high:.6f}"), tick),
                to_tick(Decimal(f"{low:.6f}"), tick),
                to_tick(Decimal(f"{close:.6f}"), tick),
                Decimal(f"{volume:.3f}"),
            ]
            price = open_
        start = next_hour(now) - timedelta(hours=49)
        for hour in range(48):
            moment = start + timedelta(hours=hour)
            rate = (FUNDING_INTEREST + Decimal(f"{self.rng.gauss(0.0, 0.00005):.8f}")).quantize(
                RATE_EXP
            )
            bar = self.bars.get(int(moment.timestamp()) // 60)
            mark = bar[3] if bar else self.mark
            self.add_funding_record(rate, mark, mark, moment)

    def refresh_stats(self, when: datetime) -> None:
        minute = int(when.timestamp()) // 60
        if minute == self.stats_minute:
            return
        self.stats_minute = minute
        window = [b for m, b in self.bars.items() if m > minute - 1440]
        for old in [m for m in self.bars if m < minute - 60 * 24 * 8]:
            del self.bars[old]
        self.stats = {
            "high": max((b[1] for b in window), default=self.mark),
            "low": min((b[2] for b in window), default=self.mark),
            "volume": sum((b[4] for b in window), ZERO),
            "open": window[0][0] if window else self.mark,
        }

    def klines(
        self, resolution: str, start: int, end: int, countback: int | None
    ) -> dict[str, Any]:
        """TradingView-UDF style bars; numbers (not strings), as the docs' example shows."""
        rows: list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]] = []
        if resolution in ("1T", "3S"):
            width = 1 if resolution == "1T" else 3
            buckets: dict[int, list[Decimal]] = {}
            for moment, price, qty in self.ticks:
                key = int(moment) // width * width
                bucket = buckets.get(key)
                if bucket is None:
                    buckets[key] = [price, price, price, price, qty]
                else:
                    bucket[1] = max(bucket[1], price)
                    bucket[2] = min(bucket[2], price)
                    bucket[3] = price
                    bucket[4] += qty
            rows = [(k, *v) for k, v in sorted(buckets.items())]  # type: ignore[misc]
        else:
            width = RESOLUTION_SECONDS.get(resolution, 0)
            if not width:
                raise ApiError(400, f"unknown resolution: {resolution}")
            grouped: dict[int, list[Decimal]] = {}
            for minute in sorted(self.bars):
                o, h, lo, c, v = self.bars[minute]
                key = minute * 60 // width * width
                group = grouped.get(key)
                if group is None:
                    grouped[key] = [o, h, lo, c, v]
                else:
                    group[1] = max(group[1], h)
                    group[2] = min(group[2], lo)
                    group[3] = c
                    group[4] += v
            rows = [(k, *v) for k, v in sorted(grouped.items())]  # type: ignore[misc]
        rows = [r for r in rows if r[0] <= end and (countback is not None or r[0] >= start)]
        if countback is not None:
            rows = rows[-countback:] if countback > 0 else []
        if not rows:
            return {"s": "no_data", "t": [], "c": [], "o": [], "h": [], "l": [], "v": []}
        return {
            "s": "ok",
            "t": [r[0] for r in rows],
            "c": [float(r[4]) for r in rows],
            "o": [float(r[1]) for r in rows],
            "h": [float(r[2]) for r in rows],
            "l": [float(r[3]) for r in rows],
            "v": [float(r[5]) for r in rows],
        }

    # -- funding --------------------------------------------------------------------------

    def current_funding_rate(self) -> Decimal:
        """F = P + clamp(I - P, -0.0005, 0.0005), P the mean premium, capped at 4 %/h."""
        if self.funding_override is not None:
            return self.funding_override
        samples = self.premium_samples
        premium = sum(samples, ZERO) / len(samples) if samples else ZERO
        rate = premium + max(-FUNDING_CLAMP, min(FUNDING_CLAMP, FUNDING_INTEREST - premium))
        return max(-FUNDING_CAP, min(FUNDING_CAP, rate)).quantize(RATE_EXP)

    def add_funding_record(
        self, rate: Decimal, index: Decimal, mark: Decimal, when: datetime
    ) -> dict[str, Any]:
        stamp = iso(when)
        record = {
            "id": len(self.funding_history) + 1,
            "symbol": self.spec.symbol,
            "funding_rate": fmt(rate),
            "index_price": fmt(index),
            "mark_price": fmt(mark),
            "premium": fmt(((mark - index) / index).quantize(RATE_EXP) if index else ZERO),
            "time": stamp,
            "created_at": stamp,
            "updated_at": stamp,
            "_ts": when.timestamp(),
        }
        self.funding_history.append(record)
        return record

    # -- views ----------------------------------------------------------------------------

    def price_view(self, when: datetime) -> dict[str, Any]:
        """`query_symbol_price` shape."""
        bid, ask = self.best_bid(), self.best_ask()
        return {
            "base": self.spec.base,
            "index_price": fmt(self.index),
            "last_price": None if self.last_price is None else fmt(self.last_price),
            "mark_price": fmt(self.mark),
            "mid_price": fmt(to_tick((bid + ask) / 2, self.spec.price_tick)),
            "quote": self.spec.quote,
            "spread_ask": fmt(ask),
            "spread_bid": fmt(bid),
            "symbol": self.spec.symbol,
            "time": iso(when),
        }

    def stream_price_view(self, when: datetime) -> dict[str, Any]:
        """WS `price` channel shape: the REST price view with `spread` as a [bid, ask] pair."""
        view = self.price_view(when)
        view["spread"] = [view.pop("spread_bid"), view.pop("spread_ask")]
        return view

    def market_view(self, when: datetime, open_interest: Decimal) -> dict[str, Any]:
        """`query_symbol_market` shape."""
        self.refresh_stats(when)
        bid, ask = self.best_bid(), self.best_ask()
        return {
            "base": self.spec.base,
            "funding_rate": fmt(self.current_funding_rate()),
            "high_price_24h": fmt(max(self.stats["high"], self.mark)),
            "index_price": fmt(self.index),
            "last_price": None if self.last_price is None else fmt(self.last_price),
            "low_price_24h": fmt(min(self.stats["low"], self.mark)),
            "mark_price": fmt(self.mark),
            "mid_price": fmt(to_tick((bid + ask) / 2, self.spec.price_tick)),
            "next_funding_time": iso_seconds(next_hour(when)),
            "open_interest": fmt(open_interest),
            "quote": self.spec.quote,
            "spread": [fmt(bid), fmt(ask)],
            "symbol": self.spec.symbol,
            "time": iso(when),
            "volume_24h": fmt(self.stats["volume"]),
        }

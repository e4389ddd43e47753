"""Chart data: the portfolio's equity curve and drawdown, and a symbol's candles.

Series are Decimal here and leave as decimal strings; only the browser's chart turns them into
numbers to draw.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection

from portfolio.models import BalanceSnapshot
from venues import registry
from venues.base import Candle, Endpoints
from venues.errors import VenueError

logger = logging.getLogger(__name__)

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Range:
    key: str
    label: str
    window: timedelta | None  # None: all history
    bucket: timedelta


RANGES = {
    r.key: r
    for r in (
        Range("24h", "24h", timedelta(hours=24), timedelta(minutes=5)),
        Range("7d", "7d", timedelta(days=7), timedelta(hours=1)),
        Range("30d", "30d", timedelta(days=30), timedelta(hours=4)),
        Range("all", "All", None, timedelta(days=1)),
    )
}
DEFAULT_RANGE = "7d"


@dataclass(frozen=True)
class EquityPoint:
    time: datetime
    equity: Decimal
    drawdown_pct: Decimal  # from the running peak within the range, <= 0


@dataclass(frozen=True)
class EquityCurve:
    range: Range
    points: list[EquityPoint]
    max_drawdown_pct: Decimal
    change: Decimal | None  # last minus first
    change_pct: Decimal | None

    def as_json(self) -> dict[str, Any]:
        return {
            "range": self.range.key,
            "equity": [
                {"time": int(p.time.timestamp()), "value": str(p.equity)} for p in self.points
            ],
            "drawdown": [
                {"time": int(p.time.timestamp()), "value": str(p.drawdown_pct)} for p in self.points
            ],
            "max_drawdown_pct": str(self.max_drawdown_pct),
            "change": None if self.change is None else str(self.change),
            "change_pct": None if self.change_pct is None else str(self.change_pct),
        }


# The last snapshot of each account in each bucket, plus each account's last snapshot before the
# range (so an account that did not change inside the range still counts from the start).
EQUITY_SQL = f"""
SELECT * FROM (
    SELECT DISTINCT ON (account_id, bucket) account_id,
           date_bin(%(bucket)s, taken_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, equity
    FROM "{BalanceSnapshot._meta.db_table}"
    WHERE account_id = ANY(%(ids)s) AND taken_at >= %(start)s
    ORDER BY account_id, bucket, taken_at DESC
) AS inside
UNION ALL
SELECT * FROM (
    SELECT DISTINCT ON (account_id) account_id, %(start)s::timestamptz AS bucket, equity
    FROM "{BalanceSnapshot._meta.db_table}"
    WHERE account_id = ANY(%(ids)s) AND taken_at < %(start)s
    ORDER BY account_id, taken_at DESC
) AS before
ORDER BY bucket, account_id
"""  # noqa: S608 - table names from model metadata


def equity_curve(account_ids: Sequence[int], range_key: str, now: datetime) -> EquityCurve:
    """The summed equity of the accounts per bucket, carrying each account's last value forward."""
    rng = RANGES.get(range_key) or RANGES[DEFAULT_RANGE]
    start = now - rng.window if rng.window else datetime(2000, 1, 1, tzinfo=now.tzinfo)
    with connection.cursor() as cursor:
        cursor.execute(
            EQUITY_SQL,
            {"bucket": rng.bucket, "ids": list(account_ids), "start": start},  # type: ignore[dict-item]
        )
        rows: list[tuple[int, datetime, Decimal]] = cursor.fetchall()
    latest: dict[int, Decimal] = {}
    points: list[EquityPoint] = []
    peak: Decimal | None = None
    worst = Decimal(0)
    index = 0
    while index < len(rows):
        bucket = rows[index][1]
        while index < len(rows) and rows[index][1] == bucket:
            latest[rows[index][0]] = rows[index][2]
            index += 1
        total = sum(latest.values(), Decimal(0))
        peak = total if peak is None or total > peak else peak
        drawdown = (total - peak) / peak * HUNDRED if peak > 0 else Decimal(0)
        drawdown = drawdown.quantize(Decimal("0.01"))
        worst = min(worst, drawdown)
        points.append(EquityPoint(bucket, total, drawdown))
    change = change_pct = None
    if len(points) >= 2:
        change = points[-1].equity - points[0].equity
        if points[0].equity > 0:
            change_pct = (change / points[0].equity * HUNDRED).quantize(Decimal("0.01"))
    return EquityCurve(rng, points, worst, change, change_pct)


# -- candles ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    key: str  # StandX's resolution value
    label: str
    seconds: int


RESOLUTIONS = {
    r.key: r
    for r in (
        Resolution("1", "1m", 60),
        Resolution("5", "5m", 300),
        Resolution("15", "15m", 900),
        Resolution("60", "1h", 3600),
        Resolution("240", "4h", 14400),
        Resolution("1D", "1D", 86400),
    )
}
DEFAULT_RESOLUTION = "15"
CANDLES_SHOWN = 300
CANDLE_CACHE_S = 10


class CandlesUnavailable(Exception):
    """The exchange could not give the price history; ``str()`` is a sentence for the page."""


def candles(
    endpoints: Endpoints, symbol: str, resolution_key: str, now: datetime, venue: str = "standx"
) -> list[dict[str, Any]]:
    """The last ``CANDLES_SHOWN`` bars of the venue's history, cached briefly (public data)."""
    resolution = RESOLUTIONS.get(resolution_key) or RESOLUTIONS[DEFAULT_RESOLUTION]
    key = f"candles:{endpoints.origin}:{symbol}:{resolution.key}"
    cached = cache.get(key)
    if cached is not None:
        return list(cached)
    start = now - timedelta(seconds=resolution.seconds * CANDLES_SHOWN)
    adapter = registry.adapter(venue)
    try:
        with adapter.public(endpoints, timeout=5.0, retries=1) as session:
            bars = session.candles(symbol, resolution.key, start, now, CANDLES_SHOWN)
    except VenueError as exc:
        logger.warning("candles for %s failed: %s", symbol, type(exc).__name__)
        raise CandlesUnavailable(
            f"{adapter.name} did not return the price history just now; the chart will load on "
            "the next try."
        ) from exc
    data = [_bar(c) for c in bars]
    cache.set(key, data, CANDLE_CACHE_S)
    return data


def _bar(c: Candle) -> dict[str, Any]:
    return {
        "time": int(c.time.timestamp()),
        "open": str(c.open),
        "high": str(c.high),
        "low": str(c.low),
        "close": str(c.close),
        "volume": str(c.volume),
    }

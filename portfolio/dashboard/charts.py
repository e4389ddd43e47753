"""Chart data: the portfolio's equity curve, return and drawdown, and a symbol's candles.

Series are Decimal here and leave as decimal strings; only the browser's chart turns them into
numbers to draw.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection

from portfolio.domain.performance import (
    DEPOSIT,
    INFERRED,
    LINK,
    WITHDRAWAL,
    NavPoint,
    flow_adjusted,
)
from portfolio.models import BalanceSnapshot, CashFlow
from portfolio.templatetags.money import signed
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
class FlowMarker:
    time: datetime  # the curve point the flow entered in
    amount: Decimal
    kind: str
    source: str

    @property
    def text(self) -> str:
        what = {LINK: "Account linked", DEPOSIT: "Deposit", WITHDRAWAL: "Withdrawal"}[self.kind]
        guessed = " (inferred)" if self.source == INFERRED else ""
        return f"{what} {signed(self.amount, 2)}{guessed}"

    def as_json(self) -> dict[str, Any]:
        return {
            "time": int(self.time.timestamp()),
            "amount": str(self.amount),
            "kind": self.kind,
            "source": self.source,
            "text": self.text,
        }


@dataclass(frozen=True)
class EquityCurve:
    """Equity as it stands, with return and drawdown on the flow-adjusted series."""

    range: Range
    points: list[NavPoint]
    markers: list[FlowMarker]
    max_drawdown_pct: Decimal
    pnl: Decimal | None  # money earned: equity change less deposits, withdrawals and links
    return_pct: Decimal | None  # time-weighted
    flows: Decimal  # net money in (+) or out (-) inside the range

    def as_json(self) -> dict[str, Any]:
        def stamp(t: datetime) -> int:
            return int(t.timestamp())

        return {
            "range": self.range.key,
            "equity": [{"time": stamp(p.time), "value": str(p.equity)} for p in self.points],
            "drawdown": [
                {"time": stamp(p.time), "value": str(p.drawdown_pct)} for p in self.points
            ],
            "markers": [m.as_json() for m in self.markers],
            "max_drawdown_pct": str(self.max_drawdown_pct),
            "pnl": None if self.pnl is None else str(self.pnl),
            "return_pct": None if self.return_pct is None else str(self.return_pct),
            "flows": str(self.flows),
        }


# Buckets are aligned to this origin both here and in SQL (date_bin).
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)

# The last snapshot of each account in each bucket, plus each account's last snapshot before the
# range (so an account that did not change inside the range still counts from the start), then
# the range's cash flows: one query for the whole chart. "inside" sorts a carried-in value
# before the range's own first bucket.
EQUITY_SQL = f"""
SELECT * FROM (
    SELECT DISTINCT ON (account_id, at) 0 AS part, account_id,
           date_bin(%(bucket)s, taken_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS at, equity,
           1 AS inside, '' AS kind, '' AS source
    FROM "{BalanceSnapshot._meta.db_table}"
    WHERE account_id = ANY(%(ids)s) AND taken_at >= %(start)s
    ORDER BY account_id, at, taken_at DESC
) AS inside
UNION ALL
SELECT * FROM (
    SELECT DISTINCT ON (account_id) 0 AS part, account_id, %(start)s::timestamptz AS at, equity,
           0 AS inside, '' AS kind, '' AS source
    FROM "{BalanceSnapshot._meta.db_table}"
    WHERE account_id = ANY(%(ids)s) AND taken_at < %(start)s
    ORDER BY account_id, taken_at DESC
) AS before
UNION ALL
SELECT 1 AS part, account_id, time AS at, amount, 0 AS inside, kind, source
FROM "{CashFlow._meta.db_table}"
WHERE account_id = ANY(%(ids)s) AND time >= %(start)s AND time <= %(now)s
ORDER BY part, at, inside, account_id
"""  # noqa: S608 - table names from model metadata


def bucket_of(time: datetime, width: timedelta) -> datetime:
    return ORIGIN + (time - ORIGIN) // width * width


def equity_curve(account_ids: Sequence[int], range_key: str, now: datetime) -> EquityCurve:
    """The summed equity of the accounts per bucket, carrying each account's last value forward,
    with the range's return, PnL and drawdown net of cash flows (``portfolio.performance``).

    The range starts on a bucket boundary, so every range cuts the history at the same places.
    """
    rng = RANGES.get(range_key) or RANGES[DEFAULT_RANGE]
    start = bucket_of(now - rng.window, rng.bucket) if rng.window else ORIGIN
    with connection.cursor() as cursor:
        cursor.execute(
            EQUITY_SQL,
            {"bucket": rng.bucket, "ids": list(account_ids), "start": start, "now": now},  # type: ignore[dict-item]
        )
        rows: list[tuple[int, int, datetime, Decimal, int, str, str]] = cursor.fetchall()
    latest: dict[int, Decimal] = {}
    series: list[tuple[datetime, Decimal]] = []
    flows: list[tuple[datetime, Decimal, str, str]] = []
    for part, account_id, at, amount, _, kind, source in rows:
        if part == 1:
            flows.append((at, amount, kind, source))
            continue
        latest[account_id] = amount
        total = sum(latest.values(), Decimal(0))
        if series and series[-1][0] == at:
            series[-1] = (at, total)
        else:
            series.append((at, total))
    # A bucket's value is its last reading: as of the bucket's end (or now, for the last one).
    as_of = [min(label + rng.bucket, now) for label, _ in series]
    perf = flow_adjusted(
        [(t, equity) for t, (_, equity) in zip(as_of, series, strict=True)],
        [(t, amount) for t, amount, _, _ in flows],
    )
    points = [replace(p, time=label) for p, (label, _) in zip(perf.points, series, strict=True)]
    markers = []
    for time, amount, kind, source in flows:
        # Marked on the point whose interval it entered in; earlier ones are in the first value.
        entered = next((i for i, t in enumerate(as_of) if t >= time), 0)
        if entered > 0:
            markers.append(FlowMarker(series[entered][0], amount, kind, source))
    return EquityCurve(
        rng, points, markers, perf.max_drawdown_pct, perf.pnl, perf.return_pct, perf.flows
    )


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
    endpoints: Endpoints, symbol: str, resolution_key: str, now: datetime, venue: str
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


def range_change_pct(bars: Sequence[dict[str, Any]]) -> Decimal | None:
    """From the first bar's open to the last bar's close, in percent: the range on screen."""
    if not bars:
        return None
    first, last = Decimal(str(bars[0]["open"])), Decimal(str(bars[-1]["close"]))
    return ((last - first) / first * HUNDRED).quantize(Decimal("0.01")) if first else None


def _bar(c: Candle) -> dict[str, Any]:
    return {
        "time": int(c.time.timestamp()),
        "open": str(c.open),
        "high": str(c.high),
        "low": str(c.low),
        "close": str(c.close),
        "volume": str(c.volume),
    }

"""Market data in Postgres: symbol info, the latest marks and funding, funding-rate history.

Public data, read through a venue's :class:`venues.base.PublicSession` with no credentials; every
row is keyed by ``(venue, symbol)``: the same name on two venues is two markets. Which venues the
server reads, and at which endpoints, is ``accounts.venue_config``'s (``settings.VENUES``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, F, Max, Min, Value, When
from django.db.models.functions import Abs
from django.utils import timezone

from portfolio.models import FundingRate, MarketPrice, MarketSymbol, Position, Trade
from portfolio.sync import funding
from venues.base import Instrument, PublicSession

FUNDING_BACKFILL = timedelta(days=7)
# A mark from the stream younger than this is not overwritten by a REST poll.
STREAM_PRECEDENCE = timedelta(seconds=10)
# The venue stamps rates finer than the whole milliseconds a query's bound has: a rate booked in
# the same millisecond as ``now`` would otherwise wait for the next sync.
FUNDING_READ_AHEAD = timedelta(seconds=1)
# A position closed since the last market sync still owes the funding of its last interval:
# the history of a symbol traded this recently is read even when nobody holds it any more.
FUNDING_AFTER_CLOSE = timedelta(hours=24)


def held_symbols(venue: str) -> set[str]:
    """The symbols positions are held in on ``venue``."""
    held = Position.objects.filter(account__venue=venue).values_list("symbol", flat=True)
    return set(held.distinct())


def listed_symbols(venue: str) -> set[str]:
    """The symbols ``venue`` lists (from the last market sync): a first order may be in any."""
    listed = MarketSymbol.objects.filter(venue=venue, enabled=True)
    return set(listed.values_list("symbol", flat=True))


@transaction.atomic
def symbols_store(venue: str, infos: list[Instrument]) -> None:
    for info in infos:
        MarketSymbol.objects.update_or_create(
            venue=venue,
            symbol=info.symbol,
            defaults={
                "base_asset": info.base_asset,
                "quote_asset": info.quote_asset,
                "price_tick_decimals": info.price_tick_decimals,
                "qty_tick_decimals": info.qty_tick_decimals,
                "quote_decimals": info.quote_decimals,
                "min_order_qty": info.min_order_qty,
                "max_order_qty": info.max_order_qty,
                "max_leverage": info.max_leverage,
                "maker_fee": info.maker_fee,
                "taker_fee": info.taker_fee,
                "price_cap_ratio": info.price_cap_ratio,
                "price_floor_ratio": info.price_floor_ratio,
                "enabled": info.enabled,
                "status": info.status,
                "kind": info.kind.value,
                "underlying": info.underlying,
                "expiry": info.expiry,
                "strike": info.strike,
                "option_type": info.option_type,
                "contract_size": info.contract_size,
            },
        )


def mark_store(
    venue: str,
    symbol: str,
    *,
    mark: Decimal | None,
    index: Decimal | None = None,
    last: Decimal | None = None,
    source: str,
    at: datetime | None = None,
) -> None:
    """Record a mark (from the stream or REST) and refresh the uPnL of the positions held in
    that market: on that venue only."""
    now = at or timezone.now()
    prices = {"mark_price": mark, "index_price": index, "last_price": last}
    defaults: dict[str, object] = {
        "source": source,
        "updated_at": now,
        **{name: value for name, value in prices.items() if value is not None},
    }
    with transaction.atomic():
        MarketPrice.objects.update_or_create(venue=venue, symbol=symbol, defaults=defaults)
        if mark is not None:
            _reprice_positions(venue, symbol, mark)


def _reprice_positions(venue: str, symbol: str, mark: Decimal) -> None:
    """Between polls the exchange's uPnL is stale: recompute it at the new mark, in one statement.

    qty is signed, so one formula serves both sides. The maintenance margin scales with the
    notional at the same rate (r = MM / notional), so health and liquidation price stay exact
    until the next poll brings the exchange's own figures.
    """
    Position.objects.filter(account__venue=venue, symbol=symbol).update(
        maint_margin=Case(
            When(
                position_value__gt=0,
                then=F("maint_margin") * Abs(F("qty")) * Value(mark) / F("position_value"),
            ),
            default=F("maint_margin"),
        ),
        mark_price=Value(mark),
        position_value=Abs(F("qty")) * Value(mark),
        upnl=F("qty") * (Value(mark) - F("entry_price")),
    )


def market_sync(session: PublicSession, *, now: datetime | None = None) -> int:
    """Symbol info, marks and funding rates for every listed symbol (a new user's first order
    needs a mark in a symbol nobody holds); funding history for the held symbols and those
    traded within ``FUNDING_AFTER_CLOSE`` (all listed ones while there are none)."""
    now = now or timezone.now()
    venue = session.venue
    infos = session.instruments()
    symbols_store(venue, infos)
    listed = {i.symbol for i in infos if i.enabled}
    held = held_symbols(venue)
    closed = set(
        Trade.objects.filter(account__venue=venue, traded_at__gte=now - FUNDING_AFTER_CLOSE)
        .values_list("symbol", flat=True)
        .distinct()
    )
    with_history = (held | closed) or listed
    written = 0
    for symbol in sorted(listed | held):
        market = session.quote(symbol)
        fresh_stream = MarketPrice.objects.filter(
            venue=venue, symbol=symbol, source="stream", updated_at__gte=now - STREAM_PRECEDENCE
        ).exists()
        MarketPrice.objects.update_or_create(
            venue=venue,
            symbol=symbol,
            defaults={
                "funding_rate": market.funding_rate,
                "next_funding_time": market.next_funding_time,
                "updated_at": now,
            },
        )
        if not fresh_stream:
            mark_store(
                venue,
                symbol,
                mark=market.mark_price,
                index=market.index_price,
                last=market.last_price,
                source="rest",
                at=now,
            )
        written += 1
        if symbol not in with_history:
            continue
        stored = FundingRate.objects.filter(venue=venue, symbol=symbol)
        since = latest = stored.aggregate(t=Max("time"))["t"]
        if since is None:
            # First time: back to the oldest fill of this symbol we hold (funding is rebuilt
            # from these rates), and at least a week.
            fills = Trade.objects.filter(account__venue=venue, symbol=symbol)
            oldest = fills.aggregate(t=Min("traded_at"))["t"]
            since = min(filter(None, [oldest, now - FUNDING_BACKFILL]))
        rates = session.funding_history(symbol, since, now + FUNDING_READ_AHEAD)
        created = FundingRate.objects.bulk_create(
            [
                FundingRate(
                    venue=venue,
                    symbol=r.symbol,
                    time=r.time,
                    funding_rate=r.funding_rate,
                    mark_price=r.mark_price,
                    index_price=r.index_price,
                )
                for r in rates
            ],
            ignore_conflicts=True,
        )
        written += len(created)
        arrived = [r.time for r in rates if latest is None or r.time > latest]
        if arrived:
            funding.funding_catch_up(venue, symbol, min(arrived))
    return written

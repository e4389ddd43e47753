"""Funding payments per position, rebuilt from funding rates and the account's fills."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import ExchangeAccount
from portfolio.models import FundingPayment, FundingRate, MarketSymbol, SyncState, Trade
from portfolio.sync import cashflows

DEFAULT_QUOTE_DECIMALS = 9  # DUSD, per query_symbol_info's quote_decimals


def payment(qty: Decimal, mark: Decimal, rate: Decimal, quote_decimals: int) -> Decimal:
    """StandX: payment = position notional x rate; a positive rate makes longs pay."""
    exact = -qty * mark * rate
    return exact.quantize(Decimal(1).scaleb(-quote_decimals), rounding=ROUND_HALF_UP)


@transaction.atomic
def funding_rebuild(account: ExchangeAccount, *, until: datetime) -> int:
    """Add the payments of every funding time up to ``until`` not yet recorded.

    ``until`` must be no later than the moment the account's trades were last read in full,
    so the position size at each funding time is known exactly.
    """
    created = 0
    symbols = Trade.objects.filter(account=account).values_list("symbol", flat=True).distinct()
    for symbol in symbols:
        done = FundingPayment.objects.filter(account=account, symbol=symbol).aggregate(
            t=Max("funding_time")
        )["t"]
        rates = FundingRate.objects.filter(
            venue=account.venue, symbol=symbol, time__lte=until, mark_price__isnull=False
        )
        if done is not None:
            rates = rates.filter(time__gt=done)
        rates = rates.order_by("time")
        if not rates:
            continue
        decimals = (
            MarketSymbol.objects.filter(venue=account.venue, symbol=symbol)
            .values_list("quote_decimals", flat=True)
            .first()
            or DEFAULT_QUOTE_DECIMALS
        )
        fills = list(
            Trade.objects.filter(account=account, symbol=symbol)
            .order_by("traded_at", "id")
            .values_list("traded_at", "side", "qty")
        )
        rows, qty, i = [], Decimal(0), 0
        for rate in rates:
            while i < len(fills) and fills[i][0] <= rate.time:
                _, side, size = fills[i]
                qty += size if side == "buy" else -size
                i += 1
            if qty == 0:
                continue
            assert rate.mark_price is not None
            rows.append(
                FundingPayment(
                    account=account,
                    symbol=symbol,
                    funding_time=rate.time,
                    funding_rate=rate.funding_rate,
                    mark_price=rate.mark_price,
                    position_qty=qty,
                    amount=payment(qty, rate.mark_price, rate.funding_rate, decimals),
                )
            )
        created += len(FundingPayment.objects.bulk_create(rows, ignore_conflicts=True))
    return created


def funding_catch_up(venue: str, symbol: str, since: datetime) -> int:
    """Book the payments of funding rates that arrived after the holders' last sync.

    A settlement moves the balance at once, but its rate reaches us with the next market sync;
    without this the payment would wait for each account's next full read (up to 5 minutes),
    and meanwhile the balance change would look like a withdrawal. Each account is rebuilt up
    to its last full read, as ``funding_rebuild`` requires, and its cash flows are re-checked
    from ``since``.
    """
    created = 0
    # Flows further back were checked when those readings were new; a first backfill of a
    # week of rates must not re-read a week of balance history for every account.
    recheck_from = max(since, timezone.now() - cashflows.RECONCILE_WINDOW)
    states = SyncState.objects.filter(
        account__in=Trade.objects.filter(account__venue=venue, symbol=symbol).values("account"),
        last_full_sync_at__gte=since,
    ).select_related("account")
    for state in states:
        assert state.last_full_sync_at is not None
        with transaction.atomic():
            created += funding_rebuild(state.account, until=state.last_full_sync_at)
            cashflows.reconcile(state.account, recheck_from)
    return created

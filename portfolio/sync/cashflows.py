"""Recording an account's cash flows from its balance readings, fills and funding.

StandX exposes no ledger of deposits and withdrawals, so they are inferred (see
``performance.infer_flows``). Inference is re-run over a trailing window on every reading rather
than once per reading: a fill read after the balance that includes it, or a funding payment
rebuilt when its rate arrives a few minutes late, would otherwise leave a false flow behind.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from accounts.models import ExchangeAccount
from portfolio.domain import performance
from portfolio.models import BalanceSnapshot, CashFlow, FundingPayment, Trade

# Long enough to cover a funding rate that reaches us after the next market sync (5 minutes).
RECONCILE_WINDOW = timedelta(minutes=15)


@transaction.atomic
def reconcile(account: ExchangeAccount, since: datetime) -> None:
    """Infer the account's flows again from its last reading at or before ``since`` onwards.

    Runs inside the caller's transaction (no network call here). The account's first reading ever
    books its equity as a "link" flow: it entered the portfolio, it was not earned.
    """
    # One reconciliation per account at a time (a sync and a late funding rate may race): they
    # delete and re-add the same inferred rows.
    list(ExchangeAccount.objects.select_for_update().filter(pk=account.pk).values_list("pk"))
    anchor = (
        BalanceSnapshot.objects.filter(account=account, taken_at__lte=since)
        .order_by("-taken_at")
        .values_list("taken_at", flat=True)
        .first()
    )
    readings = BalanceSnapshot.objects.filter(account=account).order_by("taken_at")
    if anchor is not None:
        readings = readings.filter(taken_at__gte=anchor)
    balances = list(readings.values_list("taken_at", "cash"))
    if not balances:
        return
    if anchor is None and not CashFlow.objects.filter(account=account, kind="link").exists():
        first = readings.first()
        assert first is not None
        CashFlow.objects.create(
            account=account,
            time=first.taken_at,
            amount=first.equity,
            kind=performance.LINK,
            source=performance.LEDGER,
        )
    start, end = balances[0][0], balances[-1][0]
    fills = Trade.objects.filter(account=account, traded_at__gt=start, traded_at__lte=end)
    payments = FundingPayment.objects.filter(
        account=account, funding_time__gt=start, funding_time__lte=end
    )
    explained = [
        performance.Movement(t, pnl - fee)
        for t, pnl, fee in fills.values_list("traded_at", "pnl", "fee_qty")
    ]
    explained += [
        performance.Movement(t, amount)
        for t, amount in payments.values_list("funding_time", "amount")
    ]
    flows = performance.infer_flows(account.pk, balances, explained)
    CashFlow.objects.filter(account=account, source=performance.INFERRED, time__gt=start).delete()
    CashFlow.objects.bulk_create(
        CashFlow(account=account, time=f.time, amount=f.amount, kind=f.kind, source=f.source)
        for f in flows
    )

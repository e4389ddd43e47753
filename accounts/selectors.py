"""Read-side queries for accounts."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import StandXAccount, User


def accounts_for(user: User) -> QuerySet[StandXAccount]:
    return (
        StandXAccount.objects.filter(owner=user)
        .select_related("sync_state")
        .order_by("label", "id")
    )


def accounts_with_history(user: User) -> QuerySet[StandXAccount]:
    """The user's accounts with how many trades and orders are stored for each.

    Counted, not the first sync's tally: an account linked before it traded, or a backfill
    continued over several syncs, still shows what it holds.
    """
    from portfolio.models import Order, Trade  # portfolio's models import this app's

    def stored(model: type[Order] | type[Trade]) -> Coalesce:
        count = (
            model.objects.filter(account=OuterRef("pk"))
            .order_by()
            .values("account")
            .annotate(n=Count("*"))
            .values("n")
        )
        return Coalesce(Subquery(count, output_field=IntegerField()), Value(0))

    return accounts_for(user).annotate(trades_stored=stored(Trade), orders_stored=stored(Order))

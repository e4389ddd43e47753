"""Read-side queries for accounts."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import (
    CharField,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from accounts.models import Credential, CredentialKind, ExchangeAccount, User

if TYPE_CHECKING:
    from portfolio.models import BalanceBucket

BUCKET_ORDER = ("wallet", "perps", "options", "spot")  # OCX's, in the order it names them


def with_credential_flags(queryset: QuerySet[ExchangeAccount]) -> QuerySet[ExchangeAccount]:
    """Annotate ``credentials_stored`` (read by ``has_credentials``) and the signing key's id."""
    own = Credential.objects.filter(account=OuterRef("pk"))
    signing = own.filter(kind=CredentialKind.STANDX_SIGNING_KEY).values("public_id")[:1]
    return queryset.annotate(
        credentials_stored=Exists(own),
        signing_key_id=Coalesce(Subquery(signing, output_field=CharField()), Value("")),
    )


def accounts_for(user: User) -> QuerySet[ExchangeAccount]:
    return with_credential_flags(
        ExchangeAccount.objects.filter(owner=user)
        .select_related("sync_state", "stream_lease")
        .order_by("label", "id")
    )


def accounts_with_history(user: User) -> QuerySet[ExchangeAccount]:
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


@dataclass(frozen=True)
class Wallets:
    """An account's wallets (buckets) as last synced, and their dollar total."""

    rows: list[BalanceBucket]
    total_usd: Decimal


def wallets_of(accounts: list[ExchangeAccount]) -> dict[int, Wallets]:
    """Each account's buckets where its venue has several (OCX's four), in one query."""
    from portfolio.models import BalanceBucket  # portfolio's models import this app's

    rows = BalanceBucket.objects.filter(account__in=[a.pk for a in accounts])
    by_account: dict[int, list[BalanceBucket]] = {}
    for row in rows:
        by_account.setdefault(row.account_id, []).append(row)

    def order(row: BalanceBucket) -> tuple[int, str, str]:
        known = row.bucket in BUCKET_ORDER
        return (BUCKET_ORDER.index(row.bucket) if known else 99, row.bucket, row.asset)

    return {
        pk: Wallets(
            sorted(found, key=order), sum((r.usd_value or Decimal(0) for r in found), Decimal(0))
        )
        for pk, found in by_account.items()
        if len(found) > 1
    }

"""Read-side queries for accounts."""

from __future__ import annotations

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

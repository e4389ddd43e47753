"""Read-side queries for accounts."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import StandXAccount, User


def accounts_for(user: User) -> QuerySet[StandXAccount]:
    return (
        StandXAccount.objects.filter(owner=user)
        .select_related("sync_state")
        .order_by("label", "id")
    )

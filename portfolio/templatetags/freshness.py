from __future__ import annotations

from django import template
from django.utils import timezone

from accounts.models import ExchangeAccount
from portfolio.streams.freshness import Freshness, account_freshness

register = template.Library()


@register.filter
def freshness(account: ExchangeAccount) -> Freshness:
    """How old the account's data is and its source (select ``sync_state`` and
    ``stream_lease`` with the account)."""
    return account_freshness(account, timezone.now())

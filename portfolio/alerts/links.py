"""Where an alert takes the trader: the position's row on the overview (or the account's)."""

from __future__ import annotations

from django.urls import reverse


def alert_url(account_id: int, symbol: str) -> str:
    anchor = f"pos-{account_id}-{symbol}" if symbol else f"account-{account_id}"
    return f"{reverse('portfolio:overview')}#{anchor}"

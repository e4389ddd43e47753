"""Downsampling of balance snapshots: raw for 2 days, one per minute to 30 days, hourly after.

Within each bucket the last snapshot is kept (the balance at the bucket's close), so the equity
curve keeps its shape while a busy account's table stays small.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction

from portfolio.models import BalanceSnapshot

RAW_FOR = timedelta(days=2)
MINUTE_FOR = timedelta(days=30)

_DOWNSAMPLE = f"""
DELETE FROM "{BalanceSnapshot._meta.db_table}"
WHERE id IN (
    SELECT id FROM (
        SELECT id, row_number() OVER (
            PARTITION BY account_id, date_trunc(%(unit)s, taken_at)
            ORDER BY taken_at DESC, id DESC
        ) AS rank
        FROM "{BalanceSnapshot._meta.db_table}"
        WHERE taken_at >= %(start)s AND taken_at < %(end)s
    ) ranked
    WHERE rank > 1
)
"""  # noqa: S608 - table names from model metadata


@transaction.atomic
def snapshots_downsample(now: datetime) -> int:
    """Delete the surplus snapshots; returns how many rows went."""
    deleted = 0
    windows = [
        ("minute", now - MINUTE_FOR, now - RAW_FOR),
        ("hour", datetime(1970, 1, 1, tzinfo=now.tzinfo), now - MINUTE_FOR),
    ]
    with connection.cursor() as cursor:
        for unit, start, end in windows:
            cursor.execute(_DOWNSAMPLE, {"unit": unit, "start": start, "end": end})
            deleted += cursor.rowcount
    return deleted

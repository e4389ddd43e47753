"""Which worker holds which account's stream: leases in Postgres.

Every statement is one conditional UPDATE, so any number of workers on any number of machines
share the accounts without a lock held across a network call: a claim takes only free or
expired leases; a heartbeat renews only the leases still held by its worker (an account taken
over while its old worker stalled is dropped by that worker at its next heartbeat); a worker
that dies simply stops renewing, and its accounts are claimed by the others once their leases
expire (``STREAM_LEASE_SECONDS``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Q

from accounts.models import AccountStatus, ExchangeAccount
from portfolio.models import StreamLease, StreamWorker, SyncState
from venues import registry
from venues.events import AccountEvents

_LEASES = StreamLease._meta.db_table
_ACCOUNTS = ExchangeAccount._meta.db_table


def streamable_venues() -> list[str]:
    """Venues whose capabilities declare account events and whose adapter has streams."""
    return [
        key
        for key in registry.known()
        if registry.adapter(key).capabilities.account_events
        and isinstance(registry.adapter(key), AccountEvents)
    ]


def leases_ensure() -> None:
    """A lease row for every linked account a stream can serve (new links get theirs here)."""
    missing = ExchangeAccount.objects.filter(
        venue__in=streamable_venues(), stream_lease__isnull=True
    ).values_list("pk", flat=True)
    StreamLease.objects.bulk_create(
        [StreamLease(account_id=pk) for pk in missing], ignore_conflicts=True
    )


_CLAIM_SQL = f"""
WITH free AS (
    SELECT l.account_id FROM "{_LEASES}" l JOIN "{_ACCOUNTS}" a ON a.id = l.account_id
    WHERE (l.lease_until IS NULL OR l.lease_until < %(now)s)
      AND a.sync_enabled AND a.status = %(verified)s AND a.venue = ANY(%(venues)s)
    ORDER BY l.account_id
    LIMIT %(limit)s
    FOR UPDATE OF l SKIP LOCKED
)
UPDATE "{_LEASES}" l
SET holder = %(holder)s, lease_until = %(until)s, connected_at = NULL
FROM free
WHERE l.account_id = free.account_id AND (l.lease_until IS NULL OR l.lease_until < %(now)s)
RETURNING l.account_id
"""  # noqa: S608 - table names from model metadata

_RENEW_SQL = f"""
UPDATE "{_LEASES}"
SET lease_until = %(until)s,
    seen_at = CASE WHEN account_id = ANY(%(connected)s) THEN %(now)s ELSE seen_at END,
    connected_at = CASE WHEN account_id = ANY(%(connected)s)
                        THEN coalesce(connected_at, %(now)s) ELSE NULL END
WHERE holder = %(holder)s
RETURNING account_id
"""  # noqa: S608 - table names from model metadata


def _until(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.STREAM_LEASE_SECONDS)


def leases_claim(holder: str, limit: int, now: datetime) -> list[int]:
    """Claim up to ``limit`` free (or expired) leases of streamable accounts for ``holder``."""
    if limit <= 0:
        return []
    params: dict[str, Any] = {
        "now": now,
        "until": _until(now),
        "holder": holder,
        "limit": limit,
        "verified": AccountStatus.VERIFIED,
        "venues": streamable_venues(),
    }
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM_SQL, params)
        return [row[0] for row in cursor.fetchall()]


def leases_renew(holder: str, connected: Iterable[int], now: datetime) -> set[int]:
    """Renew every lease ``holder`` still holds; the connected streams' heartbeat is now.
    Returns the accounts still held (any other was taken over)."""
    params: dict[str, Any] = {
        "now": now,
        "until": _until(now),
        "holder": holder,
        "connected": list(connected),
    }
    with connection.cursor() as cursor:
        cursor.execute(_RENEW_SQL, params)
        return {row[0] for row in cursor.fetchall()}


def leases_release(holder: str, account_ids: Iterable[int] | None = None) -> int:
    """Give leases back at once (a clean stop, or streams that cannot run): polling takes
    those accounts at its next dispatch."""
    held = StreamLease.objects.filter(holder=holder)
    if account_ids is not None:
        held = held.filter(account_id__in=list(account_ids))
    return held.update(holder="", lease_until=None, connected_at=None)


def streams_note_events(last_event_at: dict[int, datetime]) -> None:
    """When each account's newest stored change happened at the venue."""
    for account_id, at in last_event_at.items():
        StreamLease.objects.filter(account_id=account_id).update(last_event_at=at)


def streams_note_reconnects(account_ids: Iterable[int]) -> None:
    StreamLease.objects.filter(account_id__in=list(account_ids)).update(
        reconnects=F("reconnects") + 1
    )


def reconcile_request(account_ids: Iterable[int], now: datetime) -> int:
    """Read these accounts in full over REST at the next dispatch (a stream (re)connected, lost
    frames, or sent a change it cannot price): the dispatcher's filter lets an account whose
    full read is owed through even while its stream is live."""
    return SyncState.objects.filter(account_id__in=list(account_ids)).update(
        last_full_sync_at=None, next_due_at=now
    )


def streamed(now: datetime) -> Q:
    """``SyncState`` rows the dispatcher leaves to their stream: the lease is held, the stream
    was seen within ``STREAM_SILENT_SECONDS``, and a full REST read happened within
    ``STREAM_RECONCILE_SECONDS`` and is not owed. Any other account is polled as before."""
    return Q(
        account__stream_lease__lease_until__gt=now,
        account__stream_lease__seen_at__gte=now - timedelta(seconds=settings.STREAM_SILENT_SECONDS),
        last_success_at__gte=now - timedelta(seconds=settings.STREAM_RECONCILE_SECONDS),
        last_full_sync_at__isnull=False,
    )


# --- the workers' own rows: heartbeat and load ------------------------------------------


def worker_report(
    name: str,
    *,
    started_at: datetime,
    capacity: int,
    accounts: int,
    connected: int,
    lagging: int,
    events: int,
    now: datetime,
) -> None:
    StreamWorker.objects.update_or_create(
        name=name,
        defaults={
            "started_at": started_at,
            "heartbeat_at": now,
            "capacity": capacity,
            "accounts": accounts,
            "connected": connected,
            "lagging": lagging,
            "events": events,
        },
    )


def worker_forget(name: str) -> None:
    """A clean stop: every lease back, and the worker's row gone."""
    leases_release(name)
    StreamWorker.objects.filter(name=name).delete()


def workers_alive(now: datetime) -> list[StreamWorker]:
    """Workers whose heartbeat is younger than a lease (older ones are dead or stalled)."""
    since = now - timedelta(seconds=settings.STREAM_LEASE_SECONDS)
    return list(StreamWorker.objects.filter(heartbeat_at__gte=since).order_by("name"))


def workers_prune(now: datetime) -> int:
    """Forget the rows of workers dead for a while (their leases expired long ago)."""
    since = now - timedelta(seconds=settings.STREAM_LEASE_SECONDS * 20)
    return StreamWorker.objects.filter(heartbeat_at__lt=since).delete()[0]

"""How old an account's data is and where it came from: its stream, or REST.

An account's data is as fresh as the newest confirmation of it: the last successful REST read,
or the last heartbeat of its live stream (a connected stream that answers pings has nothing
unsaid: every change would have arrived). The source says which keeps it fresh now:

- "stream": the stream is live and its last (re)connection's full read is done;
- "reconciling": the stream is live, and a full REST read is owed or under way (after a
  (re)connection, a gap, or a new position the stream cannot price);
- "polled": no live stream: REST polls it at the adaptive cadence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from accounts.models import ExchangeAccount
from portfolio.models import StreamLease, SyncState

STREAM = "stream"
RECONCILING = "reconciling"
POLLED = "polled"


@dataclass(frozen=True)
class Freshness:
    source: str
    at: datetime | None  # when the data was last known to be current (None: never)

    def age_s(self, now: datetime) -> int | None:
        return None if self.at is None else max(0, int((now - self.at).total_seconds()))


def stream_live(lease: StreamLease | None, now: datetime) -> bool:
    """Held, connected, and seen within ``STREAM_SILENT_SECONDS`` (the dispatcher's test)."""
    if lease is None or not lease.holder or lease.lease_until is None or lease.seen_at is None:
        return False
    silent = timedelta(seconds=settings.STREAM_SILENT_SECONDS)
    return (
        lease.lease_until > now and lease.connected_at is not None and lease.seen_at >= now - silent
    )


def freshness(state: SyncState | None, lease: StreamLease | None, now: datetime) -> Freshness:
    polled_at = state.last_success_at if state is not None else None
    seen = [t for t in (polled_at, lease.seen_at if lease is not None else None) if t]
    at = max(seen) if seen else None
    if not stream_live(lease, now):
        return Freshness(POLLED, at)
    syncing = state is not None and state.lease_until is not None and state.lease_until > now
    owed = state is None or state.last_full_sync_at is None
    return Freshness(RECONCILING if owed or syncing else STREAM, at)


def account_freshness(account: ExchangeAccount, now: datetime) -> Freshness:
    """From the account's ``sync_state`` and ``stream_lease`` (select them with it)."""
    state = getattr(account, "sync_state", None)
    lease = getattr(account, "stream_lease", None)
    return freshness(state, lease, now)

"""Each account's data age and source: its live stream, a reconciliation, or polling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portfolio.models import StreamLease, SyncState
from portfolio.streams.freshness import POLLED, RECONCILING, STREAM, freshness

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def polled(seconds: float, *, full: bool = True, syncing: bool = False) -> SyncState:
    return SyncState(
        account_id=1,
        next_due_at=NOW,
        last_success_at=ago(seconds),
        last_full_sync_at=ago(seconds) if full else None,
        lease_until=NOW + timedelta(seconds=30) if syncing else None,
    )


def stream(seen: float, *, held: bool = True) -> StreamLease:
    return StreamLease(
        account_id=1,
        holder="w1",
        lease_until=NOW + timedelta(seconds=5) if held else ago(1),
        connected_at=ago(600),
        seen_at=ago(seen),
    )


def test_it_says_stream_and_counts_the_age_from_the_streams_last_heartbeat() -> None:
    fresh = freshness(polled(240), stream(0.5), NOW)
    assert (fresh.source, fresh.age_s(NOW)) == (STREAM, 0)


def test_it_says_reconciling_while_a_full_read_is_owed_or_under_way() -> None:
    assert freshness(polled(240, full=False), stream(0.5), NOW).source == RECONCILING
    assert freshness(polled(240, syncing=True), stream(0.5), NOW).source == RECONCILING


def test_it_says_polled_without_a_stream_and_counts_from_the_last_rest_read() -> None:
    fresh = freshness(polled(12), None, NOW)
    assert (fresh.source, fresh.age_s(NOW)) == (POLLED, 12)


def test_it_lets_a_silent_streams_age_grow_from_its_last_heartbeat() -> None:
    # Silent for 30 s (more than STREAM_SILENT_SECONDS) and not polled since: left to
    # polling, and the "monitor is blind" rule sees the 30 s since the stream last answered.
    fresh = freshness(polled(240), stream(30), NOW)
    assert (fresh.source, fresh.age_s(NOW)) == (POLLED, 30)
    assert freshness(polled(240), stream(30, held=False), NOW).source == POLLED


def test_it_has_no_age_for_an_account_never_read() -> None:
    assert freshness(None, None, NOW).age_s(NOW) is None

"""Stream leases share the accounts out between workers and hand a dead worker's on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AccountStatus, User
from portfolio.models import StreamLease, StreamWorker, SyncState
from portfolio.streams import leases
from tests.factories import make_account

pytestmark = pytest.mark.django_db


def accounts_of(owner: User, n: int) -> list[int]:
    ids = [make_account(owner, f"A{i}", f"0x{i}").pk for i in range(n)]
    leases.leases_ensure()
    return ids


def test_it_gives_each_account_to_one_worker_up_to_its_capacity(alice: User) -> None:
    ids = accounts_of(alice, 5)
    now = timezone.now()
    first = leases.leases_claim("w1", 3, now)
    second = leases.leases_claim("w2", 10, now)
    assert len(first) == 3
    assert sorted(first + second) == sorted(ids)
    assert leases.leases_claim("w3", 10, now) == []


def test_it_lets_nobody_take_a_lease_its_holder_keeps_renewing(alice: User) -> None:
    [account] = accounts_of(alice, 1)
    start = timezone.now()
    assert leases.leases_claim("w1", 1, start) == [account]
    later = start + timedelta(seconds=5)
    assert leases.leases_renew("w1", [account], later) == {account}
    assert leases.leases_claim("w2", 1, later + timedelta(seconds=3)) == []
    lease = StreamLease.objects.get(pk=account)
    assert (lease.holder, lease.seen_at, lease.connected_at) == ("w1", later, later)


def test_it_hands_a_dead_workers_accounts_to_another_once_the_lease_expires(alice: User) -> None:
    ids = accounts_of(alice, 2)
    start = timezone.now()
    leases.leases_claim("dead", 10, start)
    assert leases.leases_claim("alive", 10, start + timedelta(seconds=1)) == []
    after_expiry = start + timedelta(seconds=7)  # STREAM_LEASE_SECONDS is 6 by default
    assert sorted(leases.leases_claim("alive", 10, after_expiry)) == sorted(ids)
    # The stalled worker, back, finds its accounts gone and drops them.
    assert leases.leases_renew("dead", [], after_expiry) == set()


def test_it_leaves_accounts_that_need_a_relink_or_are_paused_to_nobody(alice: User) -> None:
    relink = make_account(alice, "R", "0xr", status=AccountStatus.NEEDS_RELINK)
    paused = make_account(alice, "P", "0xp", sync_enabled=False)
    leases.leases_ensure()
    assert StreamLease.objects.filter(pk__in=[relink.pk, paused.pk]).count() == 2
    assert leases.leases_claim("w1", 10, timezone.now()) == []


def test_it_gives_every_lease_back_at_a_clean_stop(alice: User) -> None:
    ids = accounts_of(alice, 2)
    now = timezone.now()
    leases.worker_report(
        "w1", started_at=now, capacity=5, accounts=2, connected=2, lagging=0, events=0, now=now
    )
    leases.leases_claim("w1", 10, now)
    leases.worker_forget("w1")
    assert not StreamWorker.objects.exists()
    assert sorted(leases.leases_claim("w2", 10, now)) == sorted(ids)


def test_it_leaves_a_streamed_account_to_its_stream_until_a_reconcile_is_owed(
    alice: User,
) -> None:
    [account] = accounts_of(alice, 1)
    now = timezone.now()
    SyncState.objects.create(
        account_id=account, next_due_at=now, last_success_at=now, last_full_sync_at=now
    )
    leases.leases_claim("w1", 1, now)
    streamed = SyncState.objects.filter(leases.streamed(now))
    assert not streamed.exists()  # claimed, but its stream has not been seen yet
    leases.leases_renew("w1", [account], now)
    assert streamed.exists()
    leases.reconcile_request([account], now)
    assert not SyncState.objects.filter(leases.streamed(now)).exists()
    later = now + timedelta(seconds=10)  # the stream fell silent and the lease lapsed
    SyncState.objects.filter(pk=account).update(last_full_sync_at=now)
    assert not SyncState.objects.filter(leases.streamed(later)).exists()

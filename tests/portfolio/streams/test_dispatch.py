"""REST reconciles streamed accounts; without their stream they are polled again at once."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import ExchangeAccount
from exchange_common.ratelimit import NoRateLimit
from portfolio.models import SyncState
from portfolio.sync import pipeline as sync
from tests.conftest import wait_for
from tests.portfolio.streams.test_worker import streaming

pytestmark = pytest.mark.django_db(transaction=True)


def due(account: ExchangeAccount) -> bool:
    return account.pk in sync.due_account_ids(timezone.now(), 100)


def reconciled_and_streamed(account: ExchangeAccount) -> bool:
    """Sync the account when the dispatcher offers it; True once it no longer does, the stream
    being live and the full read done."""
    if due(account):
        sync.account_sync(account.pk, limiter=NoRateLimit())
        return False
    state = SyncState.objects.filter(pk=account.pk).first()
    return bool(state and state.last_full_sync_at and streaming(account))


def test_it_leaves_a_streamed_account_to_its_stream_and_polls_it_once_every_worker_is_gone(
    alice_trader: ExchangeAccount, stream_workers: Callable[..., Any]
) -> None:
    worker = stream_workers()
    # Connected: its full read is owed first, then the dispatcher leaves it to the stream.
    wait_for(lambda: reconciled_and_streamed(alice_trader), timeout=60, interval=0.2)
    SyncState.objects.filter(pk=alice_trader.pk).update(next_due_at=timezone.now())
    assert not due(alice_trader)

    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    killed = time.monotonic()
    wait_for(lambda: due(alice_trader), timeout=10)
    assert time.monotonic() - killed < 5  # its lease (2 s here) lapsed: polled again

    stream_workers()
    wait_for(lambda: reconciled_and_streamed(alice_trader), timeout=60, interval=0.2)
    SyncState.objects.filter(pk=alice_trader.pk).update(next_due_at=timezone.now())
    assert not due(alice_trader)


def test_it_polls_a_streamed_account_again_when_its_reconciliation_is_due(
    alice_trader: ExchangeAccount, stream_workers: Callable[..., Any], settings: Any
) -> None:
    settings.STREAM_RECONCILE_SECONDS = 2.0
    stream_workers()
    wait_for(lambda: reconciled_and_streamed(alice_trader), timeout=60, interval=0.2)
    SyncState.objects.filter(pk=alice_trader.pk).update(next_due_at=timezone.now())
    assert not due(alice_trader)
    wait_for(lambda: due(alice_trader), timeout=5)
    assert streaming(alice_trader)  # the stream is fine: this is the slow reconciliation

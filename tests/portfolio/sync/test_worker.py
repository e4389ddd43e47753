"""The sync through real Celery workers, including one killed with SIGKILL mid-sync."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from accounts.models import ExchangeAccount
from exchange_common.ratelimit import NoRateLimit
from portfolio.models import SyncState, Trade
from portfolio.tasks import sync_account
from tests.conftest import BASE_DIR, child_env, wait_for
from tests.portfolio.sync.test_pipeline import assert_matches_ledger, place_some_orders
from tests.standx_access import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def synced_once(account: ExchangeAccount) -> Any:
    state = SyncState.objects.filter(pk=account.pk).first()
    return state is not None and state.last_success_at is not None


def test_a_worker_syncs_an_account_to_equal_the_ledger(
    celery_worker_process: None, alice_linked: ExchangeAccount, sim_url: str
) -> None:
    with client_for(alice_linked, rate_limiter=NoRateLimit()) as client:
        place_some_orders(client)
    sync_account.delay(alice_linked.pk)
    wait_for(lambda: synced_once(alice_linked), timeout=30)
    assert_matches_ledger(alice_linked, sim_url)


def start_worker(queue: str = "crashtest", **env: str) -> subprocess.Popen[bytes]:
    """A worker of its own, on one queue, in its own process group (so it can be killed)."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "standx_web", "worker", "--pool", "solo",
         "-l", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle",
         "-Q", queue],
        cwd=BASE_DIR, env=child_env(**env), start_new_session=True,
    )  # fmt: skip


@contextmanager
def worker_on(queue: str = "crashtest", **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """:func:`start_worker` for the block; stopped (warm shutdown) if still running at its end."""
    worker = start_worker(queue, **env)
    try:
        yield worker
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=15)


def test_a_worker_killed_mid_sync_leaves_nothing_half_written(
    alice_linked: ExchangeAccount, sim_url: str
) -> None:
    with client_for(alice_linked, rate_limiter=NoRateLimit()) as client:
        place_some_orders(client)
    # Trades answer slowly, so the worker is inside the sync (after positions, balance and
    # orders were read) when it dies.
    httpx.post(f"{sim_url}/sim/faults", json={"endpoint": "query_trades", "latency_ms": 4000})
    try:
        with worker_on(SYNC_LEASE_SECONDS="3") as worker:
            sync_account.apply_async(args=(alice_linked.pk,), queue="crashtest")
            wait_for(
                lambda: SyncState.objects.filter(
                    pk=alice_linked.pk, lease_until__isnull=False
                ).exists(),
                timeout=30,
            )
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        # The transaction never began: nothing of this sync is stored.
        assert not Trade.objects.filter(account=alice_linked).exists()
        assert not synced_once(alice_linked)
    finally:
        httpx.delete(f"{sim_url}/sim/faults")
    # A new worker picks the account up once the dead worker's lease has lapsed.
    with worker_on(SYNC_LEASE_SECONDS="3"):
        wait_for(lambda: _lease_lapsed(alice_linked), timeout=10)
        sync_account.apply_async(args=(alice_linked.pk,), queue="crashtest")
        wait_for(lambda: synced_once(alice_linked), timeout=30)
    assert_matches_ledger(alice_linked, sim_url)
    assert Trade.objects.filter(account=alice_linked, symbol="BTC-USD").exists()


def _lease_lapsed(account: ExchangeAccount) -> bool:
    from django.utils import timezone

    state = SyncState.objects.get(pk=account.pk)
    return state.lease_until is None or state.lease_until < timezone.now()

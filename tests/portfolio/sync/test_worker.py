"""The sync through real Celery workers, including one killed with SIGKILL mid-sync."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest

from accounts.models import ExchangeAccount, User
from exchange_common.ratelimit import NoRateLimit
from perpex.keys import ApiKey
from perpex.rest import PerpExClient
from portfolio import health
from portfolio.jobs import URGENT_QUEUE
from portfolio.models import SyncState, Trade
from portfolio.sync import pipeline as sync
from portfolio.tasks import dispatch_syncs, sync_account, worker_heartbeat
from standx_web.redis_client import redis_client
from tests import factories
from tests.conftest import BASE_DIR, child_env, perpex_linked, wait_for
from tests.perpex_sim.helpers import SimControl, sim
from tests.portfolio.sync import test_perpex_sync as perpex_sync
from tests.portfolio.sync.test_pipeline import assert_matches_ledger, place_some_orders
from tests.standx_access import client_for

__all__ = ["sim"]
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
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "standx_web",
            "worker",
            "--pool",
            "solo",
            "-l",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-Q",
            queue,
        ],
        cwd=BASE_DIR,
        env=child_env(**env),
        start_new_session=True,
    )


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


def test_a_worker_killed_mid_sync_of_a_perpex_account_loses_and_doubles_nothing(
    alice: User, sim: SimControl
) -> None:
    sim.config(rate_limit=False)
    account, creds = perpex_sync.linked(alice, sim)
    rng = random.Random(9)
    with PerpExClient(
        ApiKey(creds["api_key"]), api_url=sim.base_url, rate_limiter=NoRateLimit()
    ) as client:
        for _ in range(6):
            perpex_sync.trade_randomly(client, sim, rng, ("market", "limit", "move"))
        assert perpex_sync.synced(account) == sync.Outcome.SYNCED
        before = Trade.objects.filter(account=account).count()
        for _ in range(6):
            perpex_sync.trade_randomly(client, sim, rng, ("market", "market", "move", "funding"))
    perpex_sync.force_full(account)
    # The fills answer slowly, so the worker is inside the full read (after the account and
    # the open orders were read) when it dies.
    sim.faults(endpoint="trades", latency_ms=4000)
    with worker_on(SYNC_LEASE_SECONDS="3") as worker:
        sync_account.apply_async(args=(account.pk,), queue="crashtest")
        wait_for(lambda: _leased(account), timeout=30)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    sim.call("DELETE", "/sim/faults")
    # The transaction never began: the rows are the first sync's.
    assert Trade.objects.filter(account=account).count() == before
    assert len(sim.ledger(creds["account_id"])["fills"]) > before
    # A new worker syncs it once the dead worker's lease has lapsed: the database is the ledger.
    synced_before = SyncState.objects.get(pk=account.pk).last_success_at
    with worker_on(SYNC_LEASE_SECONDS="3"):
        wait_for(lambda: _lease_lapsed(account), timeout=10)
        sync_account.apply_async(args=(account.pk,), queue="crashtest")
        wait_for(
            lambda: SyncState.objects.get(pk=account.pk).last_success_at != synced_before,
            timeout=30,
        )
    perpex_sync.assert_matches_ledger(account, sim, creds)


def _leased(account: ExchangeAccount) -> bool:
    return SyncState.objects.filter(pk=account.pk, lease_until__isnull=False).exists()


def _lease_lapsed(account: ExchangeAccount) -> bool:
    from django.utils import timezone

    state = SyncState.objects.get(pk=account.pk)
    return state.lease_until is None or state.lease_until < timezone.now()


def test_a_crowd_of_risky_standx_accounts_leaves_perpex_its_own_budget(
    celery_worker_process: None, alice: User, perpex_sim_url: str
) -> None:
    from django.utils import timezone

    # Twelve StandX accounts near liquidation (3 requests each: more than StandX's 22 a
    # dispatch), riskier than two quiet PerpEx accounts. They go to the urgent queue, which
    # this worker does not consume: the test reads them off the broker.
    crowd = [factories.make_account(alice, f"S{i}", f"0x{i:x}") for i in range(12)]
    perpex = [perpex_linked(alice, perpex_sim_url, f"Perp {i}") for i in range(2)]
    past = timezone.now() - timedelta(seconds=5)
    for account in crowd:
        SyncState.objects.create(
            account=account, next_due_at=past, interval_s=1, backfill_done=True
        )
    for account in perpex:
        SyncState.objects.create(account=account, next_due_at=past, interval_s=60)

    # The worker consumes (it records the heartbeat it is sent): the syncs expire in seconds.
    broker = redis_client()
    broker.delete(health.WORKER_HEARTBEAT_KEY)
    worker_heartbeat.delay()
    wait_for(lambda: broker.get(health.WORKER_HEARTBEAT_KEY), timeout=60)
    broker.delete(URGENT_QUEUE)
    try:
        assert dispatch_syncs() == 7 + 2  # StandX: 7 x 3 of its 22; PerpEx: its own budget
        assert broker.llen(URGENT_QUEUE) == 7
    finally:
        broker.delete(URGENT_QUEUE)
    for account in perpex:
        wait_for(lambda account=account: synced_once(account), timeout=30)

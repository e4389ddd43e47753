"""Alert evaluation after syncs: queued per account, evaluated together in one batch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from accounts.models import ExchangeAccount, User
from portfolio import jobs, tasks
from portfolio.alerts import batches as alert_batches
from standx_web.redis_client import redis_client
from tests.conftest import wait_for
from tests.portfolio.alerts.test_evaluation import hold_sol, make_account, open_alerts
from tests.portfolio.sync.test_worker import worker_on

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_queue() -> Iterator[None]:
    client = redis_client()
    client.delete(alert_batches.DUE_KEY, alert_batches.SCHEDULED_KEY)
    yield
    client.delete(alert_batches.DUE_KEY, alert_batches.SCHEDULED_KEY)


@pytest.fixture
def scheduled(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(
        jobs.app, "send_task", lambda name, args, **kw: calls.append({"name": name, **kw})
    )
    return calls


@pytest.fixture
def two_near_liquidation(alice: User) -> list[ExchangeAccount]:
    accounts = [make_account(alice, "Main", "0xa"), make_account(alice, "Hedge", "0xb")]
    for account in accounts:
        hold_sol(account, mark="91.1")  # health 1.21x: critical
    return accounts


def test_syncs_in_quick_succession_schedule_one_batch_that_evaluates_them_all(
    two_near_liquidation: list[ExchangeAccount], scheduled: list[dict[str, Any]]
) -> None:
    for account in two_near_liquidation:
        alert_batches.alerts_evaluate_soon(account.pk)
    assert scheduled == [
        {
            "name": "portfolio.evaluate_synced",
            "countdown": alert_batches.COALESCE_S,
            "queue": jobs.URGENT_QUEUE,
            "expires": 60,
        }
    ]
    assert open_alerts("health-critical") == []  # nothing evaluated inside the sync
    assert tasks.evaluate_synced() >= 2
    fired = open_alerts("health-critical")
    assert sorted(a.account_id for a in fired) == sorted(a.pk for a in two_near_liquidation)
    assert {a.status for a in fired} == {"firing"}


@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_urgent_queue_runs_the_scheduled_batch(
    two_near_liquidation: list[ExchangeAccount],
) -> None:
    with worker_on(tasks.URGENT_QUEUE):
        for account in two_near_liquidation:
            alert_batches.alerts_evaluate_soon(account.pk)
        wait_for(lambda: len(open_alerts("health-critical")) == 2, timeout=30)
    assert not redis_client().exists(alert_batches.DUE_KEY)


def test_an_account_queued_after_a_batch_ran_schedules_the_next_batch(
    two_near_liquidation: list[ExchangeAccount], scheduled: list[dict[str, Any]]
) -> None:
    first, second = two_near_liquidation
    alert_batches.alerts_evaluate_soon(first.pk)
    alert_batches.alerts_evaluate_queued()
    alert_batches.alerts_evaluate_soon(second.pk)
    assert len(scheduled) == 2
    assert [a.account_id for a in open_alerts("health-critical")] == [first.pk]
    alert_batches.alerts_evaluate_queued()
    assert len(open_alerts("health-critical")) == 2


def test_an_empty_batch_does_nothing(scheduled: list[dict[str, Any]]) -> None:
    assert alert_batches.alerts_evaluate_queued() == 0


def test_with_the_broker_down_the_sync_evaluates_at_once(
    two_near_liquidation: list[ExchangeAccount], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broker_down(*args: Any, **kw: Any) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(jobs.app, "send_task", broker_down)
    alert_batches.alerts_evaluate_soon(two_near_liquidation[0].pk)
    [alert] = open_alerts("health-critical")
    assert alert.account_id == two_near_liquidation[0].pk
    # The schedule is free again: the next sync schedules a batch of its own.
    assert not redis_client().exists(alert_batches.SCHEDULED_KEY)

"""Celery tasks: thin wrappers around services. Tasks take ids, never credentials."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone

from accounts import venue_config
from portfolio.alerts import batches as alert_batches
from portfolio.alerts import email as notify
from portfolio.alerts import email_address as alert_email
from portfolio.alerts import evaluation as alerting
from portfolio.alerts import push
from portfolio.health import WORKER_HEARTBEAT_KEY, record_heartbeat
from portfolio.jobs import DEFAULT_QUEUE, URGENT_QUEUE
from portfolio.market import store as market
from portfolio.sync import dispatch, retention
from portfolio.sync import pipeline as sync
from standx_web.celery_app import app
from venues import registry
from venues.errors import RateLimited, Unavailable

TransientError = (Unavailable, RateLimited)
logger = logging.getLogger(__name__)


@shared_task(name="portfolio.worker_heartbeat", ignore_result=True, max_retries=0)
def worker_heartbeat() -> None:
    """Record that beat scheduled and a worker ran a task just now (read by /healthz)."""
    record_heartbeat(WORKER_HEARTBEAT_KEY)


@shared_task(
    name="portfolio.sync_account",
    ignore_result=True,
    autoretry_for=(sync.TransientSyncError,),
    retry_backoff=1,
    retry_backoff_max=30,
    retry_jitter=True,
    max_retries=3,
    soft_time_limit=45,
    time_limit=60,
)
def sync_account(account_id: int) -> str:
    """One sync of one account (idempotent: the lease makes a duplicate a no-op)."""
    return sync.account_sync(account_id).value


@shared_task(name="portfolio.dispatch_syncs", ignore_result=True, max_retries=0)
def dispatch_syncs() -> int:
    """Enqueue the due accounts, riskiest first within each venue, each venue within its own
    share of its REST budget for one dispatch interval."""
    every = settings.SYNC_DISPATCH_SECONDS
    budgets = dispatch.venue_budgets(every, cap_per_second=settings.SYNC_REQUESTS_PER_SECOND)
    limit = max(budgets.values())  # every sync costs at least one request
    due = sync.due_accounts(timezone.now(), limit=limit, request_budget=budgets)
    for account_id, urgent in due:
        # expires: a sync queued behind a backlog is replaced by the next dispatch anyway.
        sync_account.apply_async(
            args=(account_id,),
            queue=URGENT_QUEUE if urgent else DEFAULT_QUEUE,
            expires=max(2.0, settings.SYNC_DISPATCH_SECONDS * 5),
        )
    return len(due)


@shared_task(name="portfolio.downsample_snapshots", ignore_result=True, max_retries=0)
def downsample_snapshots() -> int:
    return retention.snapshots_downsample(timezone.now())


@app.on_after_finalize.connect
def setup_periodic_tasks(sender: Any, **kwargs: Any) -> None:
    interval = settings.WORKER_HEARTBEAT_SECONDS
    # expires: a heartbeat queued behind a stalled worker is worthless once the next one is due.
    sender.add_periodic_task(
        interval, worker_heartbeat.s(), name="worker heartbeat", expires=interval
    )
    every = settings.SYNC_DISPATCH_SECONDS
    sender.add_periodic_task(every, dispatch_syncs.s(), name="dispatch syncs", expires=every)
    # Funding and symbol rules change slowly; marks come from the price stream in between.
    sender.add_periodic_task(30.0, sync_market.s(), name="sync market data", expires=30)
    sweep = settings.ALERT_SWEEP_SECONDS
    sender.add_periodic_task(sweep, sweep_alerts.s(), name="sweep alerts", expires=sweep)
    sender.add_periodic_task(
        crontab(minute=17), downsample_snapshots.s(), name="downsample snapshots", expires=3000
    )
    # An audit entry cut off while "sending" is settled by asking the venue, a minute later.
    sender.add_periodic_task(
        30.0, settle_stale_sending.s(), name="settle stale audit entries", expires=30
    )


@shared_task(
    name="portfolio.sync_market",
    ignore_result=True,
    autoretry_for=TransientError,
    retry_backoff=2,
    max_retries=2,
    soft_time_limit=60,
    time_limit=90,
)
def sync_market() -> int:
    """Symbol info, marks, funding and funding history (public data) of every venue offered,
    each at its configured endpoints within its own shared budget. One venue that does not
    answer does not hold up the others; the task is retried when none answered."""
    written = 0
    failed: list[Exception] = []
    venues = venue_config.offered()
    for key in venues:
        venue = registry.adapter(key)
        endpoints = venue_config.configured_endpoints(key)
        limiter = sync.shared_rate_limiter(key, share="all")
        try:
            with venue.public(endpoints, limiter=limiter) as session:
                written += market.market_sync(session)
        except TransientError as exc:
            logger.warning("market data of %s not synced: %s", venue.name, exc)
            failed.append(exc)
    if failed and len(failed) == len(venues):
        raise failed[0]
    return written


@shared_task(name="portfolio.evaluate_synced", ignore_result=True, max_retries=0)
def evaluate_synced() -> int:
    """The alert rules of every account synced since the last batch, in one pass."""
    return alert_batches.alerts_evaluate_queued()


@shared_task(name="portfolio.sweep_alerts", ignore_result=True, max_retries=0)
def sweep_alerts() -> int:
    """Data age and token expiry of every account: "your monitor is blind" needs no sync."""
    return alerting.alerts_sweep()


@shared_task(
    name="portfolio.send_alert_email",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def send_alert_email(event_id: int) -> bool:
    """The email fallback of one critical alert event (sent at most once)."""
    return notify.alert_email_send(event_id)


@shared_task(
    name=alert_email.VERIFY_TASK,
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=5,
    max_retries=3,
)
def send_email_verification(user_id: int) -> bool:
    """The signed link that proves the user's alert email address."""
    return alert_email.verification_send(user_id)


@shared_task(bind=True, name=push.SEND_TASK, ignore_result=True, max_retries=push.MAX_ATTEMPTS)
def send_push(self: Any, delivery_id: int) -> str:
    """One alert event to one device (claimed, so sent at most once at a time); a busy or
    failing push service is tried again later, up to the cap."""
    outcome = push.push_deliver(delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="portfolio.settle_order", ignore_result=True, max_retries=0, expires=120)
def settle_order(audit_id: int) -> str:
    """Follow an order whose outcome the request could not see yet (``query_order`` by its
    ``cl_ord_id`` for up to ~15 s); the page hears the result over the live socket."""
    from portfolio.trading import services as trading

    return trading.order_outcome(audit_id, tries=60).status


@shared_task(name="portfolio.settle_stale_sending", ignore_result=True, max_retries=0, expires=30)
def settle_stale_sending() -> int:
    """Entries left "sending" by a crash or a killed worker: settled from the venue's records."""
    from portfolio.trading import services as trading

    return trading.audit_settle_stale()

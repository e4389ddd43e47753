"""Celery tasks: thin wrappers around services."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from standx_web.celery_app import app
from standx_web.health import WORKER_HEARTBEAT_KEY, record_heartbeat


@shared_task(name="portfolio.worker_heartbeat", ignore_result=True, max_retries=0)
def worker_heartbeat() -> None:
    """Record that beat scheduled and a worker ran a task just now (read by /healthz)."""
    record_heartbeat(WORKER_HEARTBEAT_KEY)


@app.on_after_finalize.connect
def setup_periodic_tasks(sender: Any, **kwargs: Any) -> None:
    interval = settings.WORKER_HEARTBEAT_SECONDS
    # expires: a heartbeat queued behind a stalled worker is worthless once the next one is due.
    sender.add_periodic_task(
        interval, worker_heartbeat.s(), name="worker heartbeat", expires=interval
    )

"""Celery signal handlers."""

from __future__ import annotations

from typing import Any

from celery.signals import worker_ready

from standx_web.health import WORKER_HEARTBEAT_KEY, record_heartbeat


@worker_ready.connect
def _heartbeat_on_start(**kwargs: Any) -> None:
    # A fresh worker is healthy at once instead of after the first beat tick.
    record_heartbeat(WORKER_HEARTBEAT_KEY)

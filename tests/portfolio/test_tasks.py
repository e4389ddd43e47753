"""The heartbeat through a real Celery worker process and the real Redis broker."""

from __future__ import annotations

import pytest

from portfolio import health
from portfolio.tasks import worker_heartbeat
from standx_web.redis_client import redis_client
from tests.conftest import wait_for


@pytest.mark.django_db
def test_a_real_worker_runs_the_heartbeat_task(celery_worker_process: None) -> None:
    client = redis_client()
    # The worker records a heartbeat as soon as it is ready...
    wait_for(lambda: client.get(health.WORKER_HEARTBEAT_KEY), timeout=60)
    client.delete(health.WORKER_HEARTBEAT_KEY)
    # ...and again for every heartbeat task beat sends it.
    worker_heartbeat.delay()
    wait_for(lambda: client.get(health.WORKER_HEARTBEAT_KEY), timeout=30)
    assert health.health_report()["worker"]["status"] == "ok"


def test_beat_schedules_the_heartbeat_with_an_expiry() -> None:
    from standx_web.celery_app import app

    app.loader.import_default_modules()
    app.finalize()
    entry = app.conf.beat_schedule["worker heartbeat"]
    assert entry["task"] == "portfolio.worker_heartbeat"
    assert entry["options"]["expires"] == entry["schedule"]

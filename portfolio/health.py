"""Health of the running system for ``/healthz`` and the dashboard's status panel.

Heartbeats are timestamps in Redis written by the worker (a beat-scheduled task) and by the price
stream process; a heartbeat older than its allowed age means that part is down.
"""

from __future__ import annotations

import time
from typing import Literal, TypedDict

import redis
from django.conf import settings
from django.db import connection
from django.db.utils import Error as DatabaseError

WORKER_HEARTBEAT_KEY = "standx:heartbeat:worker"
PRICESTREAM_HEARTBEAT_KEY = "standx:heartbeat:pricestream"

Status = Literal["ok", "down", "idle"]


class Component(TypedDict):
    status: Status
    detail: str


class HealthReport(TypedDict):
    ok: bool
    database: Component
    redis: Component
    worker: Component
    pricestream: Component


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2, decode_responses=True
    )


def record_heartbeat(key: str, client: redis.Redis | None = None) -> None:
    (client or redis_client()).set(key, repr(time.time()), ex=24 * 3600)


def check_database() -> Component:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return {"status": "down", "detail": type(exc).__name__}
    return {"status": "ok", "detail": "answered"}


def _heartbeat_age(client: redis.Redis, key: str) -> float | None:
    raw = client.get(key)
    if raw is None:
        return None
    try:
        return max(0.0, time.time() - float(str(raw)))
    except ValueError:
        return None


def pricestream_expected() -> bool:
    """Whether a price stream must be running: when some linked account holds a position."""
    from portfolio.models import Position

    return Position.objects.exists()


def health_report() -> HealthReport:
    database = check_database()
    client = redis_client()
    try:
        client.ping()
    except redis.RedisError as exc:
        unknown: Component = {"status": "down", "detail": "redis is down"}
        return {
            "ok": False,
            "database": database,
            "redis": {"status": "down", "detail": type(exc).__name__},
            "worker": unknown,
            "pricestream": unknown,
        }
    redis_state: Component = {"status": "ok", "detail": "answered"}

    worker_age = _heartbeat_age(client, WORKER_HEARTBEAT_KEY)
    worker: Component
    if worker_age is None:
        worker = {"status": "down", "detail": "no heartbeat recorded"}
    elif worker_age > settings.WORKER_HEARTBEAT_MAX_AGE:
        worker = {"status": "down", "detail": f"last heartbeat {worker_age:.0f}s ago"}
    else:
        worker = {"status": "ok", "detail": f"last heartbeat {worker_age:.0f}s ago"}

    stream_age = _heartbeat_age(client, PRICESTREAM_HEARTBEAT_KEY)
    pricestream: Component
    if stream_age is not None and stream_age <= settings.PRICESTREAM_MAX_AGE:
        pricestream = {"status": "ok", "detail": f"last heartbeat {stream_age:.0f}s ago"}
    elif stream_age is not None:
        pricestream = {"status": "down", "detail": f"last heartbeat {stream_age:.0f}s ago"}
    elif pricestream_expected():
        pricestream = {"status": "down", "detail": "no heartbeat recorded"}
    else:
        pricestream = {"status": "idle", "detail": "no symbols to watch"}

    ok = all(c["status"] != "down" for c in (database, redis_state, worker, pricestream))
    return {
        "ok": ok,
        "database": database,
        "redis": redis_state,
        "worker": worker,
        "pricestream": pricestream,
    }

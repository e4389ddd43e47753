"""Health of the running system for ``/healthz`` and the dashboard's status panel.

Heartbeats are timestamps in Redis written by the worker (a beat-scheduled task) and by the price
stream process; a heartbeat older than its allowed age means that part is down. The price stream
also reports each venue's feed (how many symbols it watches and when its last mark came), so
``feeds`` says per venue whether its marks are flowing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypedDict

import redis
from django.conf import settings
from django.db import connection
from django.db.utils import Error as DatabaseError

from standx_web.redis_client import redis_client

WORKER_HEARTBEAT_KEY = "standx:heartbeat:worker"
PRICESTREAM_HEARTBEAT_KEY = "standx:heartbeat:pricestream"
# venue -> "heartbeat,last mark (or empty),symbols watched,started" (Unix times)
PRICESTREAM_FEEDS_KEY = "standx:heartbeat:pricestream:feeds"
# account-stream worker name -> "heartbeat,accounts,connected,lagging,capacity"
STREAM_WORKERS_KEY = "standx:heartbeat:accountstreams"

Status = Literal["ok", "down", "idle"]


class Component(TypedDict):
    status: Status
    detail: str


class StreamWorkerLoad(TypedDict):
    name: str
    heartbeat_s: float  # seconds since its last heartbeat
    accounts: int
    connected: int
    lagging: int
    capacity: int


class HealthReport(TypedDict):
    ok: bool
    database: Component
    redis: Component
    worker: Component
    pricestream: Component
    feeds: dict[str, Component]  # each venue's price feed
    # Account streams: never "down" (an account without a live stream is polled), "idle" when
    # no worker runs; each live worker's load.
    accountstreams: Component
    stream_workers: list[StreamWorkerLoad]


def record_heartbeat(key: str, client: redis.Redis | None = None) -> None:
    (client or redis_client()).set(key, repr(time.time()), ex=24 * 3600)


def record_feed(
    venue: str,
    *,
    watching: int,
    last_mark: float | None,
    started: float,
    client: redis.Redis | None = None,
) -> None:
    """One venue's feed as the price stream sees it now (written with its heartbeat)."""
    mark = "" if last_mark is None else repr(last_mark)
    value = f"{time.time()!r},{mark},{watching},{started!r}"
    (client or redis_client()).hset(PRICESTREAM_FEEDS_KEY, venue, value)


def held_venues() -> set[str]:
    """The venues some linked account holds a position on (their feeds must run)."""
    from portfolio.models import Position

    return set(Position.objects.values_list("account__venue", flat=True).distinct())


def _feed(venue: str, raw: str | None, held: Callable[[], set[str]], now: float) -> Component:
    max_age = settings.PRICESTREAM_MAX_AGE
    try:
        beat_s, mark_s, watching_s, started_s = (raw or "").split(",")
        beat, watching, started = float(beat_s), int(watching_s), float(started_s)
        mark = float(mark_s) if mark_s else None
    except ValueError:
        beat = None
    if beat is None or now - beat > max_age:
        if venue not in held():
            return {"status": "idle", "detail": "no symbols to watch"}
        if beat is None:
            return {"status": "down", "detail": "no feed heartbeat recorded"}
        return {"status": "down", "detail": f"last heartbeat {now - beat:.0f}s ago"}
    if watching == 0:
        return {"status": "idle", "detail": "no symbols to watch"}
    symbols = f"{watching} symbol{'s' * (watching != 1)}"
    if mark is None:
        if now - started <= max_age:
            return {"status": "ok", "detail": f"{symbols}; waiting for the first mark"}
        return {"status": "down", "detail": f"{symbols}; no mark since the start"}
    if now - mark > max_age:
        return {"status": "down", "detail": f"{symbols}; no mark for {now - mark:.0f}s"}
    return {"status": "ok", "detail": f"{symbols}; last mark {now - mark:.0f}s ago"}


def feeds_report(
    client: redis.Redis, held: Callable[[], set[str]] = held_venues
) -> dict[str, Component]:
    """Each offered venue's price feed; the database is asked (through ``held``) only about a
    venue whose feed is not reporting: is it expected to?"""
    raw = {str(k): str(v) for k, v in client.hgetall(PRICESTREAM_FEEDS_KEY).items()}
    now = time.time()
    return {venue: _feed(venue, raw.get(venue), held, now) for venue in settings.VENUES}


def record_stream_worker(
    name: str,
    *,
    accounts: int,
    connected: int,
    lagging: int,
    capacity: int,
    client: redis.Redis | None = None,
) -> None:
    """One account-stream worker's load now (written with its heartbeat; the admin reads the
    same figures from its database row)."""
    value = f"{time.time()!r},{accounts},{connected},{lagging},{capacity}"
    (client or redis_client()).hset(STREAM_WORKERS_KEY, name, value)


def forget_stream_worker(name: str, client: redis.Redis | None = None) -> None:
    (client or redis_client()).hdel(STREAM_WORKERS_KEY, name)


def streams_report(client: redis.Redis) -> tuple[Component, list[StreamWorkerLoad]]:
    """The account-stream workers whose heartbeat is younger than a lease, and their load;
    older entries (a worker killed outright) are dropped."""
    now = time.time()
    loads: list[StreamWorkerLoad] = []
    for key, value in client.hgetall(STREAM_WORKERS_KEY).items():
        try:
            beat_s, *counts = str(value).split(",")
            beat = float(beat_s)
            figures = [int(c) for c in counts]
        except ValueError:
            beat, figures = 0.0, []
        if now - beat > settings.STREAM_LEASE_SECONDS or len(figures) != 4:
            client.hdel(STREAM_WORKERS_KEY, key)
            continue
        loads.append(
            {
                "name": str(key),
                "heartbeat_s": round(now - beat, 1),
                "accounts": figures[0],
                "connected": figures[1],
                "lagging": figures[2],
                "capacity": figures[3],
            }
        )
    loads.sort(key=lambda w: w["name"])
    if not loads:
        return {"status": "idle", "detail": "no stream worker: every account is polled"}, []
    held = sum(w["accounts"] for w in loads)
    lagging = sum(w["lagging"] for w in loads)
    detail = f"{len(loads)} worker{'s' * (len(loads) != 1)}, {held} accounts, {lagging} lagging"
    return {"status": "ok", "detail": detail}, loads


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


def pricestream_expected(held: Callable[[], set[str]] = held_venues) -> bool:
    """Whether a price stream must be running: when some linked account holds a position."""
    return bool(held())


class _Once:
    """``held_venues()`` asked at most once per report, and only if some part needs it."""

    def __init__(self) -> None:
        self.value: set[str] | None = None

    def __call__(self) -> set[str]:
        if self.value is None:
            self.value = held_venues()
        return self.value


def health_report(held_by_viewer: set[str] | None = None) -> HealthReport:
    """The state of every part. ``held_by_viewer``: the venues where the reader of a page holds
    positions, already loaded by that page; then a feed is expected for those (and the page
    asks the database nothing more). ``/healthz`` leaves it out and asks about every account."""
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
            "feeds": {},
            "accountstreams": unknown,
            "stream_workers": [],
        }
    redis_state: Component = {"status": "ok", "detail": "answered"}
    held: Callable[[], set[str]] = _Once() if held_by_viewer is None else (lambda: held_by_viewer)

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
    elif pricestream_expected(held):
        pricestream = {"status": "down", "detail": "no heartbeat recorded"}
    else:
        pricestream = {"status": "idle", "detail": "no symbols to watch"}

    feeds = feeds_report(client, held)
    streams, loads = streams_report(client)
    parts = (database, redis_state, worker, pricestream, *feeds.values())
    return {
        "ok": all(c["status"] != "down" for c in parts),
        "database": database,
        "redis": redis_state,
        "worker": worker,
        "pricestream": pricestream,
        "feeds": feeds,
        "accountstreams": streams,
        "stream_workers": loads,
    }

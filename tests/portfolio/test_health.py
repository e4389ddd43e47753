"""/healthz against the real database and Redis, with each part failing for real."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import Client, override_settings

from portfolio import health
from standx_web.redis_client import redis_client as project_redis
from tests.conftest import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = project_redis()
    yield client
    client.delete(
        health.WORKER_HEARTBEAT_KEY,
        health.PRICESTREAM_HEARTBEAT_KEY,
        health.PRICESTREAM_FEEDS_KEY,
        health.STREAM_WORKERS_KEY,
    )


@pytest.fixture
def fresh_worker(redis_client: redis.Redis) -> None:
    health.record_heartbeat(health.WORKER_HEARTBEAT_KEY, redis_client)


def get(client: Client) -> tuple[int, dict[str, object]]:
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_it_is_200_when_everything_is_up(client: Client, fresh_worker: None) -> None:
    status, body = get(client)
    assert status == 200
    assert body["ok"] is True
    assert body["database"] == {"status": "ok", "detail": "answered"}
    assert body["redis"] == {"status": "ok", "detail": "answered"}
    assert body["worker"]["status"] == "ok"  # type: ignore[index]
    assert body["pricestream"] == {"status": "idle", "detail": "no symbols to watch"}
    assert body["feeds"] == {
        "standx": {"status": "idle", "detail": "no symbols to watch"},
        "perpex": {"status": "idle", "detail": "no symbols to watch"},
        "ocx": {"status": "idle", "detail": "no symbols to watch"},
    }


def hold_sol_on(venue: str) -> None:
    from decimal import Decimal

    from django.utils import timezone

    from accounts.models import ExchangeAccount, User
    from portfolio.models import Position
    from tests.factories import make_account

    owner = User.objects.create_user(f"holder-{venue}")
    account = make_account(owner, identity=f"0x{venue}")
    ExchangeAccount.objects.filter(pk=account.pk).update(venue=venue)
    Position.objects.create(
        account=account,
        symbol="SOL-USD",
        exchange_id="1",
        qty=Decimal(1),
        entry_price=Decimal(100),
        margin_mode="cross",
        synced_at=timezone.now(),
    )


def test_each_venue_where_positions_are_held_needs_its_feed(
    client: Client, fresh_worker: None, redis_client: redis.Redis
) -> None:
    health.record_heartbeat(health.PRICESTREAM_HEARTBEAT_KEY, redis_client)
    hold_sol_on("perpex")
    now = time.time()
    health.record_feed("standx", watching=0, last_mark=None, started=now, client=redis_client)
    status, body = get(client)
    assert status == 503
    assert body["feeds"] == {
        "standx": {"status": "idle", "detail": "no symbols to watch"},
        "perpex": {"status": "down", "detail": "no feed heartbeat recorded"},
        "ocx": {"status": "idle", "detail": "no symbols to watch"},
    }
    health.record_feed("perpex", watching=1, last_mark=None, started=now, client=redis_client)
    status, body = get(client)
    assert status == 200
    assert body["feeds"]["perpex"] == {  # type: ignore[index]
        "status": "ok",
        "detail": "1 symbol; waiting for the first mark",
    }
    health.record_feed("perpex", watching=2, last_mark=now - 3, started=now, client=redis_client)
    assert get(client)[1]["feeds"]["perpex"]["detail"] == "2 symbols; last mark 3s ago"  # type: ignore[index]
    health.record_feed("perpex", watching=2, last_mark=now - 90, started=now, client=redis_client)
    status, body = get(client)
    assert status == 503
    assert body["feeds"]["perpex"] == {  # type: ignore[index]
        "status": "down",
        "detail": "2 symbols; no mark for 90s",
    }


def test_it_is_503_when_the_database_is_down(
    client: Client, fresh_worker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real connection to a port where no PostgreSQL listens.
    dead = DatabaseWrapper({**connection.settings_dict, "HOST": "127.0.0.1", "PORT": free_port()})
    monkeypatch.setattr(health, "connection", dead)
    status, body = get(client)
    assert status == 503
    assert body["database"] == {"status": "down", "detail": "OperationalError"}
    assert body["redis"]["status"] == "ok"  # type: ignore[index]


def test_it_is_503_when_redis_is_down(client: Client) -> None:
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        status, body = get(client)
    assert status == 503
    assert body["redis"] == {"status": "down", "detail": "ConnectionError"}
    assert body["database"]["status"] == "ok"  # type: ignore[index]


def test_it_is_503_when_no_worker_heartbeat_was_ever_recorded(
    client: Client, redis_client: redis.Redis
) -> None:
    redis_client.delete(health.WORKER_HEARTBEAT_KEY)
    status, body = get(client)
    assert status == 503
    assert body["worker"] == {"status": "down", "detail": "no heartbeat recorded"}


def test_it_is_503_when_the_worker_heartbeat_is_stale(
    client: Client, redis_client: redis.Redis
) -> None:
    redis_client.set(health.WORKER_HEARTBEAT_KEY, repr(time.time() - 300))
    status, body = get(client)
    assert status == 503
    assert body["worker"] == {"status": "down", "detail": "last heartbeat 300s ago"}


def test_it_is_503_when_the_price_stream_went_silent(
    client: Client, fresh_worker: None, redis_client: redis.Redis
) -> None:
    redis_client.set(health.PRICESTREAM_HEARTBEAT_KEY, repr(time.time() - 120))
    status, body = get(client)
    assert status == 503
    # 120 s, or a second more when the request itself was slow.
    assert body["pricestream"] in (
        {"status": "down", "detail": "last heartbeat 120s ago"},
        {"status": "down", "detail": "last heartbeat 121s ago"},
    )


def test_it_is_503_when_the_price_stream_is_expected_but_never_ran(
    client: Client, fresh_worker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "pricestream_expected", lambda *held: True)
    status, body = get(client)
    assert status == 503
    assert body["pricestream"] == {"status": "down", "detail": "no heartbeat recorded"}


def test_a_live_price_stream_is_ok(
    client: Client, fresh_worker: None, redis_client: redis.Redis
) -> None:
    health.record_heartbeat(health.PRICESTREAM_HEARTBEAT_KEY, redis_client)
    status, body = get(client)
    assert status == 200
    assert body["pricestream"]["status"] == "ok"  # type: ignore[index]


def test_it_answers_over_plain_http_even_when_https_is_enforced(
    client: Client, fresh_worker: None
) -> None:
    with override_settings(SECURE_SSL_REDIRECT=True):
        assert client.get("/healthz").status_code == 200
        assert client.get("/accounts/login/").status_code == 301


def test_it_shows_each_stream_worker_its_accounts_and_lagging_streams(
    client: Client, fresh_worker: None, redis_client: redis.Redis
) -> None:
    status, body = get(client)
    assert (status, body["accountstreams"]) == (
        200,
        {"status": "idle", "detail": "no stream worker: every account is polled"},
    )
    health.record_stream_worker(
        "w1", accounts=900, connected=898, lagging=2, capacity=2000, client=redis_client
    )
    health.record_stream_worker(
        "w2", accounts=100, connected=100, lagging=0, capacity=2000, client=redis_client
    )
    status, body = get(client)
    assert status == 200
    assert body["accountstreams"] == {
        "status": "ok",
        "detail": "2 workers, 1000 accounts, 2 lagging",
    }
    w1 = body["stream_workers"][0]  # type: ignore[index]
    assert (w1["name"], w1["accounts"], w1["lagging"]) == ("w1", 900, 2)


def test_it_forgets_a_stream_worker_whose_heartbeat_stopped(
    client: Client, fresh_worker: None, redis_client: redis.Redis
) -> None:
    old = f"{time.time() - 60!r},5,5,0,2000"
    redis_client.hset(health.STREAM_WORKERS_KEY, "killed", old)
    status, body = get(client)
    assert (status, body["stream_workers"]) == (200, [])
    assert not redis_client.hexists(health.STREAM_WORKERS_KEY, "killed")

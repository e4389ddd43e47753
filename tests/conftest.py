"""Shared fixtures: personas and real child servers (daphne, Celery) on the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from accounts.models import ExchangeAccount, User
from venues import standx as standx_venue
from venues.base import Endpoints as VenueEndpoints

BASE_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def fresh_sign_in_throttles() -> Iterator[None]:
    """Every test client signs in from 127.0.0.1: one test's failures must not lock the next."""
    from standx_web.redis_client import redis_client

    def clear() -> None:
        client = redis_client()
        keys = list(client.scan_iter("standx:throttle:*", count=500))
        if keys:
            client.delete(*keys)

    clear()
    yield
    clear()


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def bob(db: None) -> User:
    return User.objects.create_user("bob", "bob@example.com", PASSWORD)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_url() -> str:
    """A DATABASE_URL for child processes that points at pytest-django's test database."""
    s: dict[str, Any] = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s["PASSWORD"]:
        auth += ":" + quote(s["PASSWORD"])
    host = s["HOST"] or ""
    if host.startswith("/"):
        return f"postgresql://{auth}@/{s['NAME']}?host={quote(host)}"
    port = f":{s['PORT']}" if s["PORT"] else ""
    return f"postgresql://{auth}@{host}{port}/{s['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = test_database_url()
    env.update(extra)
    return env


def wait_for(predicate: Any, timeout: float = 30, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@contextmanager
def child_server(
    name: str, args: list[str], *, ready_path: str | None, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run ``python <args>`` (``{port}`` filled in) until the block ends; yields its base URL.

    With ``ready_path`` it waits until that path answers over HTTP.
    """
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, *(a.format(port=port) for a in args)], cwd=BASE_DIR, env=env
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if ready_path is not None:
            wait_for(lambda: proc.poll() is not None or _http_ok(url + ready_path), 60)
            assert proc.poll() is None, f"{name} exited during start-up"
        yield url
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def sim_url() -> Iterator[str]:
    """`python -m standx_sim` in a child process (contract 3), seed 1, on a free port.

    Serves the perps API, the auth API, both WebSockets and the /sim/ control API on one origin.
    """
    args = ["-m", "standx_sim", "--host", "127.0.0.1", "--port", "{port}", "--seed", "1"]
    with child_server("the simulator", args, ready_path="/api/health") as url:
        # Every suite shares this simulator from 127.0.0.1: StandX's per-IP budget would make
        # unrelated tests throttle each other. Tests of 429s turn limits on or inject faults.
        with urllib.request.urlopen(
            urllib.request.Request(
                url + "/sim/limits",
                data=b'{"enabled": false}',
                method="POST",
                headers={"content-type": "application/json"},
            ),
            timeout=10,
        ):
            pass
        yield url


@pytest.fixture(scope="session")
def perpex_sim_url() -> Iterator[str]:
    """`python -m perpex_sim` in a child process (contract 7), seed 1, on a free port: the REST
    API under /api/v1, the WebSocket at /ws and the /sim/ control API on one origin."""
    args = ["-m", "perpex_sim", "--host", "127.0.0.1", "--port", "{port}", "--seed", "1"]
    with child_server("the PerpEx simulator", args, ready_path="/api/v1/markets") as url:
        yield url


@pytest.fixture(scope="session")
def daphne_url(
    django_db_setup: None,
    django_db_blocker: Any,
    sim_url: str,
    perpex_sim_url: str,
    ocx_sim_url: str,
) -> Iterator[str]:
    """daphne serving the real ASGI app in a fresh interpreter, on the test database, with the
    simulators as its StandX, its PerpEx and its OCX (as in demo mode)."""
    ws = "ws" + sim_url.removeprefix("http")
    with django_db_blocker.unblock():
        env = child_env(
            STANDX_PERPS_URL=sim_url,
            STANDX_AUTH_URL=sim_url,
            STANDX_WS_URL=f"{ws}/ws-stream/v1",
            STANDX_WS_API_URL=f"{ws}/ws-api/v1",
            PERPEX_API_URL=perpex_sim_url,
            PERPEX_WS_URL="ws" + perpex_sim_url.removeprefix("http") + "/ws",
            OCX_API_URL=ocx_sim_url,
        )
    args = ["-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "standx_web.asgi:application"]
    with child_server("daphne", args, ready_path="/accounts/login/", env=env) as url:
        yield url


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """A real Celery worker (solo pool) consuming from the test Redis, on the test database."""
    with django_db_blocker.unblock():
        env = child_env()
    args = [
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
    ]
    with child_server("celery", args, ready_path=None, env=env):
        yield


def sim_credentials(sim_url: str, **body: Any) -> dict[str, Any]:
    """A funded simulated StandX account: {"address", "token", "signing_key", "public_key"}."""
    import httpx

    payload = {"chain": "bsc", "deposit": "10000", **body}
    response = httpx.post(f"{sim_url}/sim/accounts", json=payload, timeout=10)
    response.raise_for_status()
    return dict(response.json())


def perpex_credentials(perpex_sim_url: str, **body: Any) -> dict[str, Any]:
    """A funded simulated PerpEx account and an API key for it: {"api_key", "account_id",
    "key_id", "permissions", "expires_at"} (``permissions``, ``expires_in``, ``deposit``)."""
    import httpx

    payload = {"deposit": "10000", **body}
    response = httpx.post(f"{perpex_sim_url}/sim/accounts", json=payload, timeout=10)
    response.raise_for_status()
    return dict(response.json())


def perpex_linked(owner: User, perpex_sim_url: str, label: str = "PerpEx", **body: Any) -> Any:
    """``owner`` with a simulated PerpEx account linked through the generic paste flow."""
    from accounts import linking
    from venues import perpex as perpex_venue

    creds = perpex_credentials(perpex_sim_url, **body)
    endpoints = perpex_venue.endpoints_for_simulator(perpex_sim_url)
    return linking.account_link_pasted(
        owner, "perpex", endpoints, {"api_key": creds["api_key"]}, label
    )


@pytest.fixture
def symbol_status(sim_url: str) -> Iterator[Any]:
    """``symbol_status("SOL-USD", "halt")`` sets what the shared simulator reports for a symbol;
    every symbol touched is listed as "trading" again afterwards, so other tests see the usual
    markets."""
    import httpx

    touched: set[str] = set()

    def set_status(symbol: str, status: str) -> None:
        touched.add(symbol)
        body = {"symbol": symbol, "status": status}
        httpx.post(f"{sim_url}/sim/symbol-status", json=body, timeout=10).raise_for_status()

    yield set_status
    for symbol in touched:
        body = {"symbol": symbol, "status": "trading"}
        httpx.post(f"{sim_url}/sim/symbol-status", json=body, timeout=10).raise_for_status()


@pytest.fixture
def sim_endpoints(sim_url: str) -> VenueEndpoints:
    return standx_venue.endpoints_for_simulator(sim_url)


@pytest.fixture
def alice_standx(sim_url: str) -> dict[str, Any]:
    return sim_credentials(sim_url)


@pytest.fixture
def alice_linked(
    alice: User, alice_standx: dict[str, Any], sim_endpoints: VenueEndpoints
) -> ExchangeAccount:
    """Alice with one simulated StandX account linked in trading mode."""
    from accounts import services

    return services.account_link_with_token(
        owner=alice,
        label="Main",
        token=alice_standx["token"],
        signing_key=alice_standx["signing_key"],
        endpoints=sim_endpoints,
    )


def market_data_synced(sim_url: str) -> int:
    """The simulator's public market data (symbols, marks, funding) stored, as the
    ``sync_market`` task stores the configured venue's."""
    from portfolio.market import store
    from venues import standx as standx_venue

    endpoints = standx_venue.endpoints_for_simulator(sim_url)
    with standx_venue.ADAPTER.public(endpoints, limiter=_no_limit()) as session:
        return store.market_sync(session)


def _no_limit() -> Any:
    from exchange_common.ratelimit import NoRateLimit

    return NoRateLimit()


def ocx_simulator(seed: int = 1) -> Any:
    """``python -m ocx_sim`` in a child process on a free port (contract 7); yields its URL."""
    args = [
        "-m",
        "ocx_sim",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--seed",
        str(seed),
        "--tick-seconds",
        "0.2",
    ]
    return child_server("the OCX simulator", args, ready_path="/health")


@pytest.fixture(scope="session")
def ocx_sim_url() -> Iterator[str]:
    """One OCX simulator shared by the session (tests that move its clock take their own)."""
    with ocx_simulator() as url:
        yield url


@pytest.fixture
def fresh_ocx_sim() -> Iterator[str]:
    """An OCX simulator of its own, for tests that move the clock days ahead."""
    with ocx_simulator(seed=2) as url:
        yield url


@pytest.fixture
def ocx_wallet(ocx_sim_url: str) -> dict[str, Any]:
    """A funded simulated OCX account: {"wallet_address", "wallet_private_key", "user_id",
    "api_key", "read_api_key", "session", ...} (its wallet key signs in tests only)."""
    import httpx

    response = httpx.post(f"{ocx_sim_url}/sim/accounts", json={"deposit": "10000", "perps": "5000"})
    response.raise_for_status()
    return dict(response.json())


def ocx_linked(
    owner: User, url: str, wallet: dict[str, Any], mode: str, label: str = ""
) -> ExchangeAccount:
    """``owner`` with the simulated OCX account linked by its wallet's sign-in, in ``mode``
    (the wallet signs here in Python, as the browser wallet would)."""
    from accounts import minting
    from ocx.auth import sign
    from venues import ocx as ocx_venue

    endpoints = ocx_venue.endpoints_for_simulator(url)
    challenge, message = minting.account_mint_begin(
        owner=owner,
        venue_key="ocx",
        address=wallet["wallet_address"],
        mode=mode,
        endpoints=endpoints,
    )
    assert wallet["wallet_address"] in message and "Nonce: " in message
    return minting.account_mint_complete(
        owner=owner,
        venue_key="ocx",
        challenge_id=challenge.pk,
        signature=sign(wallet["wallet_private_key"], message),
        label=label,
        endpoints=endpoints,
    )

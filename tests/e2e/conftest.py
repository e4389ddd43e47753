"""Browser fixtures: Debian's Chromium driven by Playwright (never `playwright install`).

These tests run in their own pytest invocation (`-p no:asyncio`): Playwright's sync API and
pytest-asyncio cannot share one process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from django.db import connections

from accounts import services
from accounts.models import ExchangeAccount, User
from exchange_common.ratelimit import NoRateLimit
from portfolio.models import Position
from portfolio.sync import pipeline as sync
from tests.conftest import PASSWORD, sim_credentials, wait_for
from tests.standx_access import client_for
from venues.standx import endpoints_for_simulator

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
T = TypeVar("T")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("REQUIRE_BROWSER=1 but Chromium was not found (CHROMIUM_PATH)")
        pytest.skip("Chromium not found; install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's ORM refuses that by
    # default. Set only for the browser session, so it never leaks into other test runs.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
            # Connections opened inside the Playwright block must not outlive it.
            connections.close_all()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def off_loop(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread: Playwright's sync API keeps an event loop in the test's
    thread, where Channels' ``async_to_sync`` (used by the live push after a sync) refuses to
    run. The thread's database connection is closed before returning."""

    def call() -> T:
        try:
            return fn()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@contextmanager
def price_stream_on(sim_url: str, perpex_sim_url: str | None = None) -> Iterator[None]:
    """``manage.py pricestream`` against the simulator (and PerpEx's, when given; otherwise
    StandX's feed alone), for as long as the block runs."""
    from tests.conftest import child_env, child_server

    ws = "ws" + sim_url.removeprefix("http")
    perpex: dict[str, str] = {"VENUES": "standx"}
    if perpex_sim_url is not None:
        perpex_ws = "ws" + perpex_sim_url.removeprefix("http") + "/ws"
        # The StandX and PerpEx feeds these tests watch: OCX's would poll a gateway out of reach.
        perpex = {
            "PERPEX_API_URL": perpex_sim_url,
            "PERPEX_WS_URL": perpex_ws,
            "VENUES": "standx,perpex",
        }
    env = child_env(
        STANDX_PERPS_URL=sim_url,
        STANDX_AUTH_URL=sim_url,
        STANDX_WS_URL=f"{ws}/ws-stream/v1",
        STANDX_WS_API_URL=f"{ws}/ws-api/v1",
        **perpex,
    )
    with child_server("pricestream", ["manage.py", "pricestream"], ready_path=None, env=env):
        yield


def demo_linked(sim_url: str, deposit: str = "10000") -> ExchangeAccount:
    """The demo user (password ``PASSWORD``) with a funded simulator account, linked for trading."""
    demo = User.objects.create_user("demo", password=PASSWORD)
    creds = sim_credentials(sim_url, deposit=deposit)
    return services.account_link_with_token(
        owner=demo,
        label="Demo",
        token=creds["token"],
        signing_key=creds["signing_key"],
        endpoints=endpoints_for_simulator(sim_url),
    )


# The service worker's notifications, as registration.getNotifications() lists them.
SW_NOTIFICATIONS = """async () => {
  const reg = await navigator.serviceWorker.ready;
  return (await reg.getNotifications()).map((n) => ({
    title: n.title, body: n.body, tag: n.tag, renotify: n.renotify,
    requireInteraction: n.requireInteraction, data: n.data,
  }));
}"""

# A click on the notification with this tag, dispatched in the service worker. A synthetic
# event grants no user activation, so clients.openWindow() is recorded (and still attempted).
CLICK_NOTIFICATION = """async (tag) => {
  const real = Clients.prototype.openWindow;
  Clients.prototype.openWindow = function (url) {
    self.__opened = url;
    return real.call(this, url).catch(() => null);
  };
  const [n] = await self.registration.getNotifications({ tag });
  self.dispatchEvent(new NotificationEvent("notificationclick", { notification: n }));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const left = (await self.registration.getNotifications({ tag })).length;
  return { opened: self.__opened || null, left };
}"""


def sw_notifications(page: Any) -> list[dict[str, Any]]:
    return list(page.evaluate(SW_NOTIFICATIONS))


def wait_for_service_worker(context: Any, timeout: float = 15) -> Any:
    """The context's running service worker (Playwright's handle to it). Waiting goes through
    Playwright, which delivers the worker's arrival only while one of its calls runs."""
    if context.service_workers:
        return context.service_workers[0]
    return context.wait_for_event("serviceworker", timeout=timeout * 1000)


@contextmanager
def sol_long_held(sim_url: str, account: ExchangeAccount, margin_mode: str) -> Iterator[None]:
    """``account`` buys 20 SOL-USD at 10x in ``margin_mode``, synced; the simulator's own price
    walk is paused meanwhile, so only the test moves the mark."""
    httpx.post(f"{sim_url}/sim/pause", json={"paused": True}, timeout=10)
    try:
        with client_for(account, rate_limiter=NoRateLimit()) as client:
            client.new_order(
                symbol="SOL-USD",
                side="buy",
                order_type="market",
                qty="20",
                time_in_force="ioc",
                margin_mode=margin_mode,
                leverage=10,
            )

        def synced() -> bool:
            off_loop(lambda: sync.account_sync(account.pk, limiter=NoRateLimit()))
            return Position.objects.filter(account=account, symbol="SOL-USD").exists()

        wait_for(synced, 15)
        yield
    finally:
        httpx.post(f"{sim_url}/sim/pause", json={"paused": False}, timeout=10)


@pytest.fixture
def demo_with_sol_long(sim_url: str) -> Iterator[ExchangeAccount]:
    """The demo user with a linked simulator account holding an isolated SOL long at 10x."""
    account = demo_linked(sim_url)
    with sol_long_held(sim_url, account, "isolated"):
        yield account


@pytest.fixture
def pricestream(sim_url: str, demo_with_sol_long: ExchangeAccount) -> Iterator[None]:
    with price_stream_on(sim_url):
        yield


def mark_for_health(position: Position, health: Decimal) -> Decimal:
    """The mark at which this isolated long's health multiple is ``health`` (see risk.py)."""
    assert position.holding_margin is not None
    assert position.maint_margin is not None
    assert position.position_value
    rate = position.maint_margin / position.position_value
    q = position.qty
    mark = (q * position.entry_price - position.holding_margin) / (q * (1 - health * rate))
    return mark.quantize(Decimal("0.001"))


def set_mark(sim_url: str, mark: Decimal) -> None:
    response = httpx.post(
        f"{sim_url}/sim/price", json={"symbol": "SOL-USD", "mark_price": str(mark)}, timeout=10
    )
    response.raise_for_status()

"""Risk alerts end to end: the simulator's mark moves, the price stream evaluates the rules, and
the demo user's browser shows a Notification and the alert centre; then the price recovers and
a "resolved" message follows.

Chromium's notifications are recorded by a thin wrapper around ``window.Notification`` (the
real one is still called): a headless browser has no notification tray to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from accounts.models import StandXAccount
from accounts.standx_access import client_for
from portfolio import sync
from portfolio.models import Position
from standx.ratelimit import NoRateLimit
from tests.conftest import wait_for
from tests.e2e.conftest import demo_linked, off_loop, price_stream_on
from tests.e2e.test_link_accounts import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  // The grant outlives a reload, as a real permission does.
  let asked = sessionStorage.getItem("asked") === "1";
  window.__notes = [];
  window.__noteObjects = [];
  class Recording extends EventTarget {
    constructor(title, options = {}) {
      super();
      window.__notes.push({ title, ...options });
      window.__noteObjects.push(this);
      try { this.real = new Real(title, options); } catch (e) { this.real = null; }
    }
    close() { this.real?.close(); }
    // "default" until the page asks on a user gesture, as in a fresh profile.
    static get permission() { return asked ? Real.permission : "default"; }
    static async requestPermission() {
      asked = true;
      sessionStorage.setItem("asked", "1");
      return Real.permission;
    }
  }
  window.Notification = Recording;
})();
"""


@pytest.fixture
def demo_with_sol_long(sim_url: str) -> Iterator[StandXAccount]:
    """The demo user with a linked simulator account holding an isolated SOL long at 10x."""
    account = demo_linked(sim_url)
    httpx.post(f"{sim_url}/sim/pause", json={"paused": True}, timeout=10)
    try:
        with client_for(account, rate_limiter=NoRateLimit()) as client:
            client.new_order(
                symbol="SOL-USD", side="buy", order_type="market", qty="20",
                time_in_force="ioc", margin_mode="isolated", leverage=10,
            )  # fmt: skip

        def synced() -> bool:
            off_loop(lambda: sync.account_sync(account.pk, limiter=NoRateLimit()))
            return Position.objects.filter(account=account, symbol="SOL-USD").exists()

        wait_for(synced, 15)
        yield account
    finally:
        httpx.post(f"{sim_url}/sim/pause", json={"paused": False}, timeout=10)


@pytest.fixture
def pricestream(sim_url: str, demo_with_sol_long: StandXAccount) -> Iterator[None]:
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


def notes(page: Page) -> list[dict[str, Any]]:
    return list(page.evaluate("window.__notes"))


def titled(page: Page, prefix: str) -> list[dict[str, Any]]:
    return [n for n in notes(page) if n["title"].startswith(prefix)]


def test_a_mark_near_liquidation_notifies_the_demo_user_and_the_recovery_resolves_it(
    browser: Any,
    daphne_url: str,
    sim_url: str,
    demo_with_sol_long: StandXAccount,
    pricestream: None,
    screenshot_dir: Path,
) -> None:
    position = Position.objects.get(account=demo_with_sol_long, symbol="SOL-USD")
    context = browser.new_context()
    context.grant_permissions(["notifications"], origin=daphne_url)
    page = context.new_page()
    try:
        page.add_init_script(RECORD_NOTIFICATIONS)
        log_in(page, daphne_url, "demo")
        expect(page.locator("#conn-state")).to_have_text("Live")
        page.get_by_role("button", name="Alerts").click()
        # Permission is asked on this click, never unprompted.
        page.get_by_role("button", name="Enable browser notifications").click()
        expect(page.get_by_role("button", name="Enable browser notifications")).to_be_hidden()
        expect(page.locator("#alert-list")).to_contain_text("Nothing is firing.")

        set_mark(sim_url, mark_for_health(position, Decimal("1.2")))

        critical = wait_for(lambda: titled(page, "Critical: SOL-USD (Demo) margin health"), 20)
        note = critical[0]
        assert note["title"] == "Critical: SOL-USD (Demo) margin health 1.20×"
        assert "alert below 1.30×" in note["body"]
        assert note["requireInteraction"] is True
        assert note["tag"].startswith("standx-alert-")
        centre = page.locator("#alert-list")
        expect(centre).to_contain_text("Critical: SOL-USD (Demo) margin health 1.20×")
        expect(page).to_have_title("(1) Overview · StandX Portfolio")
        page.screenshot(path=str(screenshot_dir / "alert-centre.png"))
        # The position's row on a fresh overview is red: below the user's critical level.
        page.reload()
        row = page.locator(f"#pos-{demo_with_sol_long.pk}-SOL-USD")
        expect(row).to_have_class("bad")
        expect(row).to_contain_text("1.20×")
        page.screenshot(path=str(screenshot_dir / "overview-risk.png"), full_page=True)
        page.get_by_role("button", name="Alerts").click()

        # Acknowledge from the centre; the item stays while the alert fires.
        centre.get_by_role(
            "button", name="Acknowledge: Critical: SOL-USD (Demo) margin health 1.20×"
        ).click()
        expect(centre.locator(".alert-item.acked")).to_have_count(1)

        set_mark(sim_url, position.entry_price)
        resolved = wait_for(lambda: titled(page, "Resolved: SOL-USD (Demo) margin health back"), 20)
        assert resolved[0]["tag"] == note["tag"]  # replaces the critical one
        assert resolved[0]["requireInteraction"] is False
        expect(centre).to_contain_text("Nothing is firing.")
        expect(page).to_have_title("Overview · StandX Portfolio")
        expect(page.locator("#alert-recent")).to_contain_text("Resolved: SOL-USD (Demo)")

        # Clicking the notification brings the trader to the position.
        page.evaluate("window.__noteObjects[0].dispatchEvent(new Event('click'))")
        page.wait_for_url(f"**#pos-{demo_with_sol_long.pk}-SOL-USD")
    finally:
        context.close()

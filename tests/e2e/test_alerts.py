"""Risk alerts end to end: the simulator's mark moves, the price stream evaluates the rules, and
the demo user's browser shows a Notification and the alert centre; then the price recovers and
a "resolved" message follows.

The page raises its notifications through its service worker (so they share a tag with the
pushes), and the test reads them back with ``registration.getNotifications()``. A thin wrapper
around ``window.Notification`` keeps the permission "default" until the page asks for it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import ExchangeAccount
from portfolio.models import Position
from tests.conftest import wait_for
from tests.e2e.conftest import (
    CLICK_NOTIFICATION,
    mark_for_health,
    set_mark,
    sw_notifications,
    wait_for_service_worker,
)
from tests.e2e.test_link_accounts import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ASK_FIRST = """
(() => {
  const Real = window.Notification;
  // The grant outlives a reload, as a real permission does.
  let asked = sessionStorage.getItem("asked") === "1";
  class AskFirst extends EventTarget {
    constructor(title, options = {}) {
      super();
      this.real = new Real(title, options);
    }
    close() { this.real.close(); }
    // "default" until the page asks on a user gesture, as in a fresh profile.
    static get permission() { return asked ? Real.permission : "default"; }
    static async requestPermission() {
      asked = true;
      sessionStorage.setItem("asked", "1");
      return Real.permission;
    }
  }
  window.Notification = AskFirst;
})();
"""


def titled(page: Page, prefix: str) -> list[dict[str, Any]]:
    """The notifications showing now (the page raises them through its service worker)."""
    return [n for n in sw_notifications(page) if n["title"].startswith(prefix)]


def test_a_mark_near_liquidation_notifies_the_demo_user_and_the_recovery_resolves_it(
    browser: Any,
    daphne_url: str,
    sim_url: str,
    demo_with_sol_long: ExchangeAccount,
    pricestream: None,
    screenshot_dir: Path,
) -> None:
    position = Position.objects.get(account=demo_with_sol_long, symbol="SOL-USD")
    context = browser.new_context()
    context.grant_permissions(["notifications"], origin=daphne_url)
    page = context.new_page()
    try:
        page.add_init_script(ASK_FIRST)
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
        wait_for_service_worker(context).evaluate(CLICK_NOTIFICATION, note["tag"])
        page.wait_for_url(f"**#pos-{demo_with_sol_long.pk}-SOL-USD")
    finally:
        context.close()

"""The fix end to end in Chromium against the simulator: a cross position crosses the critical
level; the alert centre and the notification carry the suggested reduce; tapping the
notification opens the reduce-only order filled in, with its preview; nothing is sent until the
trader signs it, and once it has filled the alert resolves."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.models import ExchangeAccount
from exchange_common.ratelimit import NoRateLimit
from portfolio.models import Alert, AuditEntry, BalanceSnapshot, Position
from portfolio.sync import pipeline as sync
from tests.conftest import market_data_synced, wait_for
from tests.e2e.conftest import (
    CLICK_NOTIFICATION,
    demo_linked,
    off_loop,
    price_stream_on,
    set_mark,
    sol_long_held,
    sw_notifications,
    wait_for_service_worker,
)
from tests.e2e.test_alerts import ASK_FIRST
from tests.e2e.test_link_accounts import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def synced(account: ExchangeAccount) -> None:
    off_loop(lambda: sync.account_sync(account.pk, limiter=NoRateLimit()))


@pytest.fixture
def demo_cross_long(sim_url: str) -> Iterator[ExchangeAccount]:
    """The demo user, 500 DUSD on the simulator, a cross SOL long of 20 at 10x (linked for
    trading), the market data stored."""
    account = demo_linked(sim_url, deposit="500")
    off_loop(lambda: market_data_synced(sim_url))
    with sol_long_held(sim_url, account, "cross"):
        yield account


def mark_for_cross_health(account: ExchangeAccount, health: Decimal) -> Decimal:
    """The mark at which the account's cross bucket (one long) has this health multiple:
    (cb + q (m - e)) / (q m r) = h  <=>  m = (q e - cb) / (q (1 - h r))."""
    p = Position.objects.get(account=account, symbol="SOL-USD")
    wallet = BalanceSnapshot.objects.filter(account=account).latest("taken_at").cross_balance
    assert wallet is not None
    assert p.maint_margin is not None
    assert p.position_value
    rate = p.maint_margin / p.position_value
    mark = (p.qty * p.entry_price - wallet) / (p.qty * (1 - health * rate))
    return mark.quantize(Decimal("0.001"))


def test_a_critical_position_carries_its_fix_and_the_tap_opens_the_reduce_previewed(
    browser: Any,
    daphne_url: str,
    sim_url: str,
    demo_cross_long: ExchangeAccount,
    screenshot_dir: Path,
) -> None:
    account = demo_cross_long
    context = browser.new_context()
    context.grant_permissions(["notifications"], origin=daphne_url)
    page = context.new_page()
    try:
        with price_stream_on(sim_url):
            page.add_init_script(ASK_FIRST)
            log_in(page, daphne_url, "demo")
            expect(page.locator("#conn-state")).to_have_text("Live")
            page.get_by_role("button", name="Alerts").click()
            page.get_by_role("button", name="Enable browser notifications").click()
            expect(page.locator("#alert-list")).to_contain_text("Nothing is firing.")

            set_mark(sim_url, mark_for_cross_health(account, Decimal("1.2")))

            def critical() -> list[dict[str, Any]]:
                return [
                    n for n in sw_notifications(page) if n["title"].startswith("Critical: SOL-USD")
                ]

            note = wait_for(critical, 20)[0]
            alert = Alert.objects.get(rule__key="health-critical", status="firing")
            assert alert.fix.startswith("Reduce SOL-USD by ")
            assert alert.fix.endswith(" to get back to 2.30×.")
            assert note["body"].endswith(alert.fix)  # the notification says what to do
            qty = alert.fix.removeprefix("Reduce SOL-USD by ").split(" ")[0]
            fix_link = page.locator("#alert-list .alert-fix")
            expect(fix_link).to_have_text(alert.fix)
            page.screenshot(path=str(screenshot_dir / "alert-fix.png"))

            # Tapping the notification opens the reduce-only order filled in, previewed.
            wait_for_service_worker(context).evaluate(CLICK_NOTIFICATION, note["tag"])
            page.wait_for_url("**/trade/?*preview=1*")
            expect(page.get_by_label("Quantity")).to_have_value(qty)
            expect(page.get_by_label("Reduce-only")).to_be_checked()
            expect(page.get_by_label("Sell / short")).to_be_checked()
            health = page.locator("#order-preview [data-field=health]")
            expect(health).to_be_visible()
            previewed = Decimal(health.inner_text().removesuffix("×").replace(",", ""))
            assert previewed >= Decimal("2.30")
            page.screenshot(path=str(screenshot_dir / "fix-order-preview.png"), full_page=True)
            assert not AuditEntry.objects.filter(action="new_order").exists()  # nothing sent

            # Signed and sent by the trader: it fills, the next sync resolves the alert.
            page.get_by_role("button", name="Sign and send").click()
            expect(page.locator("#order-outcome")).to_be_visible()
            entry = AuditEntry.objects.get(action="new_order")
            assert entry.body["reduce_only"] is True
            assert entry.body["qty"] == qty

            def resolved() -> bool:
                synced(account)
                alert.refresh_from_db()
                return alert.status == "resolved"

            wait_for(resolved, 20)
            page.get_by_role("button", name="Alerts").click()
            expect(page.locator("#alert-list")).to_contain_text("Nothing is firing.")
    finally:
        context.close()

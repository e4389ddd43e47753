"""A PerpEx account linked through the paste form in Chromium, its positions beside StandX's; its
SOL-USD mark driven toward liquidation notifies (StandX's SOL-USD position untouched), the
position is closed from the positions page, and the simulator's ledger holds exactly the orders
of the audit log."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import ExchangeAccount, User
from exchange_common.ratelimit import NoRateLimit
from perpex.keys import ApiKey
from perpex.rest import OrderRequest, PerpExClient
from portfolio.models import AuditEntry, MarketPrice, Position
from portfolio.sync import pipeline as sync
from tests.conftest import PASSWORD, perpex_credentials, wait_for
from tests.e2e.conftest import mark_for_health, off_loop, price_stream_on, sw_notifications
from tests.e2e.test_alerts import ASK_FIRST, titled
from tests.portfolio.sync.test_perpex_sync import market_synced
from tests.standx_access import client_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_links_a_perpex_key_sees_its_risk_and_closes_it_from_the_dashboard(
    browser: Any,
    daphne_url: str,
    sim_url: str,
    perpex_sim_url: str,
    alice_linked: ExchangeAccount,
    screenshot_dir: Path,
) -> None:
    # A SOL long on StandX, synced; a SOL long and an ETH short on PerpEx, not linked yet. The
    # PerpEx simulator's random walk stands still: only this test moves its marks.
    httpx.post(f"{perpex_sim_url}/sim/pause", json={"paused": True}, timeout=10)
    with client_for(alice_linked, rate_limiter=NoRateLimit()) as client:
        client.new_order(symbol="SOL-USD", side="buy", order_type="market", qty="3")
    off_loop(lambda: sync.account_sync(alice_linked.pk, limiter=NoRateLimit()))
    creds = perpex_credentials(perpex_sim_url)
    with PerpExClient(
        ApiKey(creds["api_key"]), api_url=perpex_sim_url, rate_limiter=NoRateLimit()
    ) as perp:
        perp.place_order(
            OrderRequest("SOL-USD", "buy", "market", Decimal(7), leverage=5, margin_mode="isolated")
        )
        perp.place_order(OrderRequest("ETH-USD", "sell", "market", Decimal("0.5")))
    off_loop(lambda: market_synced(perpex_sim_url))  # PerpEx's symbol rules, for the close
    opened_at = Decimal(
        httpx.get(f"{perpex_sim_url}/sim/state", timeout=10).json()["marks"]["SOL-USD"]
    )

    context = browser.new_context()
    context.grant_permissions(["notifications"], origin=daphne_url)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        page.add_init_script(ASK_FIRST)
        page.goto(f"{daphne_url}/accounts/login/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        page.get_by_role("link", name="Accounts", exact=True).click()
        page.get_by_role("link", name="Link an account").first.click()
        page.get_by_role("navigation", name="Venue").get_by_role("link", name="PerpEx").click()
        expect(page.get_by_role("heading", name="Link your PerpEx account")).to_be_visible()
        # Garbage first: a sentence, nothing stored, nothing echoed.
        page.get_by_label("API key", exact=True).fill("eyJ-this-is-not.a-key")
        page.get_by_role("button", name="Verify and link").click()
        expect(page.get_by_role("alert").first).to_contain_text("That is not a PerpEx API key")
        assert not ExchangeAccount.objects.filter(venue="perpex").exists()
        page.get_by_label("Label", exact=True).fill("Perp")
        page.get_by_label("API key", exact=True).fill(creds["api_key"])
        page.get_by_role("button", name="Verify and link").click()
        expect(page).to_have_url(f"{daphne_url}/accounts/links/")
        expect(page.locator(".messages")).to_contain_text("Linked “Perp” on PerpEx (trading).")
        assert creds["api_key"] not in page.content()
        linked_at = timezone.now()

        perpex = ExchangeAccount.objects.get(owner__username="alice", venue="perpex")
        off_loop(lambda: sync.account_sync(perpex.pk, limiter=NoRateLimit()))
        assert Position.objects.filter(account=perpex).count() == 2

        page.get_by_role("link", name="Positions", exact=True).click()
        rows = page.locator("#positions tbody tr")
        expect(rows).to_have_count(3)
        standx_sol = rows.filter(has_text="Main").filter(has_text="SOL-USD")
        perpex_sol = rows.filter(has_text="Perp").filter(has_text="SOL-USD")
        expect(standx_sol.locator(".venue")).to_have_text("StandX")
        expect(perpex_sol.locator(".venue")).to_have_text("PerpEx")
        expect(perpex_sol).to_contain_text("5× isolated")
        expect(rows.filter(has_text="ETH-USD").locator(".venue")).to_have_text("PerpEx")
        # The symbol link is per venue: PerpEx's SOL-USD page is PerpEx's market.
        perpex_sol.get_by_role("link", name="SOL-USD").click()
        expect(page).to_have_url(f"{daphne_url}/symbols/perpex/SOL-USD/")
        expect(page.get_by_text("PerpEx: market")).to_be_visible()
        page.screenshot(path=str(screenshot_dir / "perpex-positions.png"), full_page=True)

        # PerpEx's SOL-USD mark toward liquidation: a Notification for the PerpEx position only.
        page.get_by_role("link", name="Overview", exact=True).click()
        expect(page.locator("#conn-state")).to_have_text("Live")
        page.get_by_role("button", name="Alerts").click()
        page.get_by_role("button", name="Enable browser notifications").click()
        expect(page.get_by_role("button", name="Enable browser notifications")).to_be_hidden()
        held = Position.objects.get(account=perpex, symbol="SOL-USD")
        standx_held = Position.objects.get(account=alice_linked, symbol="SOL-USD")
        near = mark_for_health(held, Decimal("1.2"))
        assert held.liq_price is not None and held.liq_price < near < held.entry_price
        with price_stream_on(sim_url, perpex_sim_url):
            # The feed is live once it stored a PerpEx mark of its own (a busy machine takes
            # a while to start it).
            wait_for(_perpex_feed_live, 60)
            set_perpex_mark(perpex_sim_url, near)
            critical = wait_for(lambda: titled(page, "Critical: SOL-USD (Perp) margin health"), 30)
        assert critical[0]["requireInteraction"] is True
        assert not [n for n in sw_notifications(page) if "(Main)" in n["title"]]
        expect(page.locator("#alert-list")).to_contain_text("Critical: SOL-USD (Perp)")
        standx_now = Position.objects.get(account=alice_linked, symbol="SOL-USD")
        assert (standx_now.qty, standx_now.liq_price) == (standx_held.qty, standx_held.liq_price)
        assert standx_now.mark_price != near

        # Closed from the positions page: a reduce-only market order through the audit log.
        page.get_by_role("link", name="Positions", exact=True).click()
        page.get_by_role("button", name="Close SOL-USD on Perp").click()
        expect(page.get_by_text("Filled: sell 7 SOL-USD")).to_be_visible()
        page.screenshot(path=str(screenshot_dir / "perpex-closed.png"), full_page=True)
    finally:
        context.close()
        # The shared simulator's SOL-USD back where it was, for the tests after this one.
        set_perpex_mark(perpex_sim_url, opened_at)
        httpx.post(f"{perpex_sim_url}/sim/pause", json={"paused": False}, timeout=10)

    # The simulator's ledger since the link holds exactly the orders of the audit log.
    ledger = httpx.get(
        f"{perpex_sim_url}/sim/ledger", params={"account": creds["account_id"]}, timeout=10
    ).json()
    since_link = [o for o in ledger["orders"] if o["createdAt"] >= linked_at.timestamp() * 1000]
    sent = AuditEntry.objects.filter(account=perpex).exclude(cl_ord_id="")
    assert sent.count() == 1
    assert {(o["id"], o["clientOrderId"]) for o in since_link} == {
        (e.exchange_order_id, e.cl_ord_id) for e in sent
    }
    assert len(ledger["orders"]) == 2 + len(since_link)  # the two placed before the link
    with PerpExClient(
        ApiKey(creds["api_key"]), api_url=perpex_sim_url, rate_limiter=NoRateLimit()
    ) as perp:
        assert [p.symbol for p in perp.account().positions] == ["ETH-USD"]
    assert User.objects.get(username="alice").exchange_accounts.count() == 2


def _perpex_feed_live() -> bool:
    found = MarketPrice.objects.filter(venue="perpex", symbol="SOL-USD", source="stream")
    return found.exists()


def set_perpex_mark(perpex_sim_url: str, mark: Decimal) -> None:
    body = {"symbol": "SOL-USD", "mark_price": str(mark)}
    httpx.post(f"{perpex_sim_url}/sim/price", json=body, timeout=10).raise_for_status()

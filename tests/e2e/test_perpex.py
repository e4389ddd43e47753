"""A PerpEx account linked through the paste form in Chromium, its positions beside StandX's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from accounts.models import ExchangeAccount, User
from exchange_common.ratelimit import NoRateLimit
from perpex.keys import ApiKey
from perpex.rest import OrderRequest, PerpExClient
from portfolio.models import Position
from portfolio.sync import pipeline as sync
from tests.conftest import PASSWORD, perpex_credentials
from tests.e2e.conftest import off_loop
from tests.standx_access import client_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_links_a_perpex_key_and_sees_its_positions_beside_standx(
    browser: Any,
    daphne_url: str,
    perpex_sim_url: str,
    alice_linked: ExchangeAccount,
    screenshot_dir: Path,
) -> None:
    # A SOL long on StandX, synced; a SOL long and an ETH short on PerpEx, not linked yet.
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

    page = browser.new_page()
    try:
        page.goto(f"{daphne_url}/accounts/login/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        page.get_by_role("link", name="Accounts", exact=True).click()
        page.get_by_role("link", name="Link an account").first.click()
        page.get_by_role("navigation", name="Venue").get_by_role("link", name="PerpEx").click()
        expect(page.get_by_role("heading", name="Link a PerpEx account")).to_be_visible()
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
    finally:
        page.close()
    assert User.objects.get(username="alice").exchange_accounts.count() == 2
    httpx.get(f"{perpex_sim_url}/sim/state", timeout=10).raise_for_status()

"""Trading from the dashboard in Chromium against the simulator: validation, preview, a double
click that sends one order, cancel, close a position, the kill switch; the simulator's ledger
ends with exactly the orders of the audit log."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from accounts.models import ExchangeAccount
from exchange_common.ratelimit import NoRateLimit
from portfolio.models import AuditEntry, MarketPrice
from portfolio.sync import pipeline as sync
from tests.conftest import PASSWORD, market_data_synced
from tests.e2e.conftest import demo_linked, off_loop
from tests.e2e.test_link_accounts import log_in
from tests.standx_access import client_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_trading(sim_url: str) -> ExchangeAccount:
    account = demo_linked(sim_url)
    assert account.can_trade

    def market_data() -> None:
        market_data_synced(sim_url)

    off_loop(market_data)
    return account


def synced(account: ExchangeAccount) -> None:
    off_loop(lambda: sync.account_sync(account.pk, limiter=NoRateLimit()))


def ledger_orders(sim_url: str, account: ExchangeAccount) -> list[dict[str, Any]]:
    response = httpx.get(f"{sim_url}/sim/ledger", params={"address": account.address}, timeout=10)
    return list(response.json()["orders"])


def fill_order(page: Page, *, symbol: str, side: str, kind: str, qty: str, price: str = "") -> None:
    page.get_by_label("Symbol").select_option(symbol)
    page.get_by_label("Buy / long" if side == "buy" else "Sell / short").check()
    page.get_by_label("Limit" if kind == "limit" else "Market", exact=True).check()
    page.get_by_label("Quantity").fill(qty)
    page.get_by_label("Limit price").fill(price)
    page.get_by_label("Time in force").select_option("gtc" if kind == "limit" else "ioc")


def test_the_demo_user_trades_from_the_dashboard(
    browser: Any, daphne_url: str, sim_url: str, demo_trading: ExchangeAccount
) -> None:
    account = demo_trading
    eth = MarketPrice.objects.get(symbol="ETH-USD").mark_price
    assert eth is not None
    bid = str((eth * Decimal("0.9")).quantize(Decimal("0.01")))
    context = browser.new_context()
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        log_in(page, daphne_url, "demo")
        page.get_by_role("link", name="Trade", exact=True).click()

        # A mistake the form catches: nothing is signed.
        fill_order(page, symbol="ETH-USD", side="buy", kind="limit", qty="0.0001", price=bid)
        page.get_by_role("button", name="Sign and send").click()
        expect(page.get_by_text("Quantity goes in steps of 0.001 for ETH-USD.")).to_be_visible()
        assert not AuditEntry.objects.exclude(action="link_key_check").exists()

        # Preview, then a double click on send: one order.
        page.get_by_label("Quantity").fill("0.1")
        page.get_by_role("button", name="Preview").click()
        preview = page.locator("#order-preview")
        # Rounded as the pages round money (half up: 314.805 shows as 314.81).
        notional = (Decimal("0.1") * Decimal(bid)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        expect(preview.locator("[data-field=notional]")).to_have_text(f"{notional:,.2f}")
        page.get_by_role("button", name="Sign and send").dblclick()
        expect(page.locator("#order-outcome")).to_contain_text("Accepted: buy 0.1 ETH-USD")
        sent = AuditEntry.objects.exclude(action="link_key_check").get()
        assert [o["cl_ord_id"] for o in ledger_orders(sim_url, account)].count(sent.cl_ord_id) == 1

        # Cancel it from the orders page.
        synced(account)
        page.get_by_role("link", name="Orders", exact=True).click()
        page.get_by_role("button", name=f"Cancel order {sent.exchange_order_id}").click()
        expect(page.get_by_text(f"Order {sent.exchange_order_id} canceled.")).to_be_visible()

        # A market buy, then close the position from the positions page.
        page.get_by_role("link", name="Trade", exact=True).click()
        fill_order(page, symbol="SOL-USD", side="buy", kind="market", qty="2")
        page.get_by_label("Leverage (×)").fill("5")
        page.get_by_role("button", name="Sign and send").click()
        expect(page.locator("#order-outcome")).to_contain_text("Filled: buy 2 SOL-USD")
        synced(account)
        page.get_by_role("link", name="Positions", exact=True).click()
        page.get_by_role("button", name="Close SOL-USD on Demo").click()
        expect(page.get_by_text("Filled: sell 2 SOL-USD")).to_be_visible()

        # The kill switch: a resting bid and a position, then everything goes.
        page.get_by_role("link", name="Trade", exact=True).click()
        fill_order(page, symbol="BTC-USD", side="sell", kind="market", qty="0.01")
        page.get_by_role("button", name="Sign and send").click()
        expect(page.locator("#order-outcome")).to_contain_text("Filled: sell 0.01 BTC-USD")
        fill_order(page, symbol="ETH-USD", side="buy", kind="limit", qty="0.1", price=bid)
        page.get_by_role("button", name="Sign and send").click()
        expect(page.locator("#order-outcome")).to_contain_text("Accepted")
        page.get_by_role("link", name="Kill switch").click()
        page.get_by_label('Type "CLOSE ALL" to confirm').fill("CLOSE ALL")
        page.get_by_label("Your password").fill(PASSWORD)
        page.get_by_role("button", name="Cancel all and close all").click()
        expect(page.locator("#kill-result")).to_contain_text("1 open order canceled.")
        expect(page.locator("#kill-result")).to_contain_text("BTC-USD: Filled: buy 0.01 BTC-USD")
        with client_for(account, rate_limiter=NoRateLimit()) as client:
            assert [p for p in client.query_positions() if p.qty] == []
            assert client.query_open_orders().result == ()

        # The activity page and the exchange agree on every order sent.
        page.get_by_role("link", name="Activity").first.click()
        expect(page.locator("#activity tbody tr")).to_have_count(AuditEntry.objects.count())
        logged = set(AuditEntry.objects.exclude(cl_ord_id="").values_list("cl_ord_id", flat=True))
        assert {o["cl_ord_id"] for o in ledger_orders(sim_url, account)} == logged
    finally:
        context.close()

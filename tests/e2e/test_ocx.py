"""An OCX account in Chromium against the OCX simulator: linked by a sign-in with the browser
wallet (an injected EIP-1193 test wallet that signs in Python, so no private key enters the page
or the server), its positions (an isolated one beside the portfolio one, a dated future with
its expiry) and its four wallets shown, an order placed and cancelled, and the unlink revoking
the key it minted."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from playwright.sync_api import expect

from accounts.models import Credential, ExchangeAccount, User
from exchange_common.ratelimit import NoRateLimit
from portfolio.market.store import market_sync
from portfolio.models import AuditEntry
from portfolio.sync import pipeline as sync
from tests.e2e.conftest import off_loop
from tests.e2e.test_link_accounts import EVM_WALLET, log_in
from venues import ocx as ocx_venue
from venues import registry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def session_call(url: str, wallet: dict[str, Any], method: str, path: str, **body: Any) -> Any:
    """The simulator's own session for this wallet (the trader acting on OCX directly)."""
    headers = {"Authorization": f"Bearer {wallet['session']}"}
    response = httpx.request(method, f"{url}{path}", json=body or None, headers=headers)
    response.raise_for_status()
    return response.json()


def markets(url: str) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in httpx.get(f"{url}/perps/markets").json()}


def test_alice_links_ocx_with_her_wallet_trades_and_unlinking_revokes_the_key(
    browser: Any,
    daphne_url: str,
    ocx_sim_url: str,
    ocx_wallet: dict[str, Any],
    alice: User,
    screenshot_dir: Path,
) -> None:
    wallet = ocx_wallet
    endpoints = ocx_venue.endpoints_for_simulator(ocx_sim_url)

    def markets_synced() -> None:
        with registry.adapter("ocx").public(endpoints) as session:
            market_sync(session)

    off_loop(markets_synced)
    (future,) = [i for i, m in markets(ocx_sim_url).items() if m["marketType"] != "perp"]
    held = (
        ("BTC-PERP", "0.01", "cross"),
        ("BTC-PERP", "0.02", "isolated"),
        (future, "0.01", "cross"),
    )
    for market, qty, mode in held:
        order = {"marketId": market, "side": "buy", "type": "market", "quantity": qty}
        order.update(timeInForce="ioc", marginMode=mode)
        session_call(ocx_sim_url, wallet, "POST", "/perps/orders", **order)

    signed: list[str] = []

    def sign(hex_message: str, address: str) -> str:
        assert address.lower() == wallet["wallet_address"].lower()
        message = bytes.fromhex(hex_message.removeprefix("0x")).decode()
        signed.append(message)
        signature = Account.sign_message(
            encode_defunct(text=message), wallet["wallet_private_key"]
        ).signature
        return "0x" + bytes(signature).hex().removeprefix("0x")

    page = browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        page.expose_function("testWalletSign", sign)
        page.add_init_script(EVM_WALLET.replace("ADDRESS", repr(wallet["wallet_address"])))
        log_in(page, daphne_url, "alice")
        page.get_by_role("link", name="Accounts", exact=True).click()
        page.get_by_role("link", name="Link an account").first.click()
        page.get_by_role("navigation", name="Venue").get_by_role("link", name="OCX").click()
        expect(page.get_by_role("heading", name="Sign in with your wallet")).to_be_visible()
        expect(
            page.get_by_text("could also move funds between buckets or withdraw")
        ).to_be_visible()
        page.get_by_label("Trading").check()
        page.locator("#mint-label").fill("OCX main")
        page.get_by_role("button", name="Sign in with an EVM wallet").click()
        expect(page).to_have_url(f"{daphne_url}/accounts/links/")
        expect(page.locator(".messages")).to_contain_text("Linked “OCX main” on OCX (trading).")
        assert len(signed) == 1 and f"URI: {ocx_sim_url}" in signed[0]

        account = ExchangeAccount.objects.get(owner=alice, venue="ocx")
        assert account.identity == wallet["user_id"]
        key = Credential.objects.get(account=account, kind="ocx_api_key_trade")
        listed = {
            k["id"]: k for k in session_call(ocx_sim_url, wallet, "GET", "/perps/me/api-keys")
        }
        assert (listed[key.public_id]["scope"], listed[key.public_id]["status"]) == (
            "trade",
            "active",
        )

        off_loop(lambda: sync.account_sync(account.pk, limiter=NoRateLimit()))
        page.reload()
        wallets = page.locator(f'[data-wallets="{account.pk}"]')
        for bucket in ("wallet", "perps", "options", "spot"):
            expect(wallets.locator(f'[data-bucket="{bucket}"]')).to_be_visible()
        expect(wallets.locator('[data-bucket="total"]')).to_contain_text("All wallets (USD)")

        page.get_by_role("link", name="Positions", exact=True).click()
        rows = page.locator("#positions tbody tr")
        expect(rows).to_have_count(3)
        expect(page.locator(f"#pos-{account.pk}-BTC-PERP")).to_contain_text("portfolio")
        expect(page.locator(f"#pos-{account.pk}-BTC-PERP-isolated")).to_contain_text("isolated")
        expect(page.locator(f"#pos-{account.pk}-{future}")).to_contain_text("expires")
        page.screenshot(path=str(screenshot_dir / "ocx-positions.png"), full_page=True)

        # An order well below the mark, then its cancel from the orders page.
        btc = markets(ocx_sim_url)["BTC-PERP"]
        tick = Decimal(1).scaleb(-int(btc["priceDecimals"]))
        bid = (Decimal(btc["markPrice"]) * Decimal("0.8")).quantize(tick, ROUND_DOWN)
        page.get_by_role("link", name="Trade", exact=True).click()
        page.get_by_label("Symbol").select_option("BTC-PERP")
        page.get_by_label("Buy / long").check()
        page.get_by_label("Limit", exact=True).check()
        page.get_by_label("Quantity").fill("0.01")
        page.get_by_label("Limit price").fill(str(bid))
        page.get_by_label("Time in force").select_option("gtc")
        page.get_by_role("button", name="Sign and send").click()
        expect(page.locator("#order-outcome")).to_contain_text("Accepted: buy 0.01 BTC-PERP")
        sent = AuditEntry.objects.get(action="new_order")
        off_loop(lambda: sync.account_sync(account.pk, limiter=NoRateLimit()))
        page.get_by_role("link", name="Orders", exact=True).click()
        page.get_by_role("button", name=f"Cancel order {sent.exchange_order_id}").click()
        expect(page.get_by_text(f"Order {sent.exchange_order_id} canceled.")).to_be_visible()
        ledger = session_call(ocx_sim_url, wallet, "GET", "/perps/orders")
        (order,) = [o for o in ledger if o["id"] == sent.exchange_order_id]
        assert order["status"] in ("canceled", "cancelled")

        # Unlinking revokes the key this server minted; OCX lists it revoked.
        page.get_by_role("link", name="Accounts", exact=True).click()
        page.locator(f'tr[data-account="{account.pk}"]').get_by_role(
            "button", name="Unlink"
        ).click()
        expect(page.locator(".messages")).to_contain_text(
            f"Unlinked “OCX main”: OCX revoked key {key.public_id}, and our copy is deleted."
        )
        listed = {
            k["id"]: k for k in session_call(ocx_sim_url, wallet, "GET", "/perps/me/api-keys")
        }
        assert listed[key.public_id]["status"] == "revoked"
        assert not ExchangeAccount.objects.filter(venue="ocx").exists()
        assert not Credential.objects.exists()
    finally:
        page.close()

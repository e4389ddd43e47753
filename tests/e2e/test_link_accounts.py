"""The three linking flows in Chromium against the simulator.

The wallets are small test wallets injected into the page as an extension would inject them
(``window.ethereum`` per EIP-1193, ``window.solana`` like Phantom); they sign in Python with a
test key through an exposed function, so no private key ever enters the page or the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import base58
import httpx
import nacl.signing
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from playwright.sync_api import Page, expect

from accounts.models import ExchangeAccount, User
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EVM_WALLET = """
window.ethereum = {
  isMetaMask: true,
  async request({ method, params }) {
    if (method === "eth_requestAccounts" || method === "eth_accounts") return [ADDRESS];
    if (method === "personal_sign") return await window.testWalletSign(params[0], params[1]);
    throw Object.assign(new Error("unsupported " + method), { code: 4200 });
  },
};
"""

SOLANA_WALLET = """
(() => {
  const publicKey = { toString: () => ADDRESS, toBase58: () => ADDRESS };
  window.solana = {
    isPhantom: true,
    publicKey,
    async connect() { return { publicKey }; },
    async signMessage(bytes, encoding) {
      const signature = await window.testSolanaSign(Array.from(bytes));
      return { signature: new Uint8Array(signature), publicKey };
    },
  };
})();
"""


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def test_alice_links_an_evm_wallet(
    browser: Any, daphne_url: str, alice: User, screenshot_dir: Path
) -> None:
    wallet = Account.create()
    signed: list[str] = []

    def sign(hex_message: str, address: str) -> str:
        assert address.lower() == wallet.address.lower()
        message = bytes.fromhex(hex_message.removeprefix("0x")).decode()
        signed.append(message)
        signature = Account.sign_message(encode_defunct(text=message), wallet.key).signature
        return "0x" + bytes(signature).hex().removeprefix("0x")

    page = browser.new_page()
    try:
        page.expose_function("testWalletSign", sign)
        page.add_init_script(EVM_WALLET.replace("ADDRESS", repr(wallet.address)))
        log_in(page, daphne_url, "alice")
        page.get_by_role("link", name="Accounts").click()
        page.get_by_role("link", name="Link an account").first.click()
        page.get_by_label("Label", exact=True).first.fill("MetaMask main")
        page.screenshot(path=str(screenshot_dir / "link-account.png"), full_page=True)
        page.get_by_role("button", name="EVM wallet").click()
        expect(page).to_have_url(f"{daphne_url}/accounts/links/", timeout=20_000)
        expect(page.locator(".messages")).to_contain_text("Linked “MetaMask main”")
        expect(page.locator("#accounts-table")).to_contain_text("MetaMask main")
        expect(page.locator("#accounts-table")).to_contain_text("days left")
    finally:
        page.close()
    assert signed
    assert signed[0].startswith("standx.com wants you to sign in")
    account = ExchangeAccount.objects.get(owner=alice)
    assert account.address.lower() == wallet.address.lower()
    assert account.mode == "trading"


def test_alice_links_a_solana_wallet(browser: Any, daphne_url: str, alice: User) -> None:
    wallet = nacl.signing.SigningKey.generate()
    address = base58.b58encode(bytes(wallet.verify_key)).decode()

    def sign(message: list[int]) -> list[int]:
        return list(wallet.sign(bytes(message)).signature)

    page = browser.new_page()
    try:
        page.expose_function("testSolanaSign", sign)
        page.add_init_script(SOLANA_WALLET.replace("ADDRESS", repr(address)))
        log_in(page, daphne_url, "alice")
        page.goto(f"{daphne_url}/accounts/links/new/")
        page.get_by_role("button", name="Solana wallet").click()
        expect(page).to_have_url(f"{daphne_url}/accounts/links/", timeout=20_000)
        expect(page.locator("#accounts-table")).to_contain_text("Solana")
    finally:
        page.close()
    account = ExchangeAccount.objects.get(owner=alice)
    assert account.chain == "solana"
    assert account.address == address


def test_without_a_wallet_the_page_says_so(browser: Any, daphne_url: str, alice: User) -> None:
    page = browser.new_page()
    try:
        log_in(page, daphne_url, "alice")
        page.goto(f"{daphne_url}/accounts/links/new/")
        page.get_by_role("button", name="EVM wallet").click()
        expect(page.locator("#wallet-status")).to_contain_text("No EVM wallet found")
    finally:
        page.close()


def test_alice_imports_an_api_token(
    browser: Any, daphne_url: str, sim_url: str, alice: User
) -> None:
    standx = httpx.post(f"{sim_url}/sim/accounts", json={"chain": "bsc", "deposit": "500"}).json()
    page = browser.new_page()
    try:
        log_in(page, daphne_url, "alice")
        page.goto(f"{daphne_url}/accounts/links/new/")
        page.locator("#id_token").fill(standx["token"])
        page.locator("#id_signing_key").fill("this is not a key")
        page.get_by_role("button", name="Verify and link").click()
        expect(page.get_by_role("alert").first).to_contain_text("not base58")
        # Nothing secret comes back into the page after an error.
        assert standx["token"] not in page.content()
        page.locator("#id_token").fill(standx["token"])
        page.locator("#id_signing_key").fill(standx["signing_key"])
        page.locator("#id_label").fill("Imported")
        page.get_by_role("button", name="Verify and link").click()
        expect(page).to_have_url(f"{daphne_url}/accounts/links/")
        expect(page.locator(".messages")).to_contain_text(standx["public_key"])
    finally:
        page.close()
    assert ExchangeAccount.objects.get(owner=alice).label == "Imported"

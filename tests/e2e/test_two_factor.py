"""Two-factor sign-in in Chromium: an authenticator code, a passkey made and used through the
browser's virtual authenticator (DevTools' WebAuthn domain), and the kill switch asking for the
second factor again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from accounts.models import ExchangeAccount, User
from accounts.sessions.store import SessionStore
from accounts.twofactor import stepup
from accounts.twofactor.models import Passkey
from tests.accounts.conftest import code_now, enrol_totp
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def local(daphne_url: str) -> str:
    # A passkey's relying party is a domain name: browsers refuse a bare IP address.
    return daphne_url.replace("127.0.0.1", "localhost")


def password_step(page: Page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def code_step(page: Page, code: str) -> None:
    page.get_by_label("Authenticator code or recovery code").fill(code)
    page.get_by_role("button", name="Verify code").click()


class TotpBrowser(NamedTuple):
    page: Page
    base: str
    secret: str


@pytest.fixture
def alice_with_app(browser: Any, daphne_url: str, alice: User) -> Iterator[TotpBrowser]:
    """Alice with an authenticator app, and a browser page at her password step."""
    secret = enrol_totp(alice).secret
    base = local(daphne_url)
    page = browser.new_page()
    try:
        password_step(page, base)
        yield TotpBrowser(page, base, secret)
    finally:
        page.close()


def test_alice_signs_in_with_her_authenticator_app(alice_with_app: TotpBrowser) -> None:
    page, base, secret = alice_with_app
    expect(page.get_by_role("heading", name="Second factor")).to_be_visible()
    code_step(page, "000000" if code_now(secret) != "000000" else "111111")
    expect(page.get_by_role("alert")).to_contain_text("That code is not valid")
    code_step(page, code_now(secret))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page).to_have_url(f"{base}/")


def test_alice_adds_a_passkey_and_signs_in_with_it_alone(
    browser: Any, daphne_url: str, alice: User
) -> None:
    base = local(daphne_url)
    context = browser.new_context()
    page = context.new_page()
    try:
        devtools = context.new_cdp_session(page)
        devtools.send("WebAuthn.enable", {"enableUI": False})
        devtools.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        password_step(page, base)
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        page.get_by_role("link", name="Security").click()
        page.get_by_label("Name for the new passkey").fill("This laptop")
        page.get_by_role("button", name="Add a passkey").click()
        # The first second factor comes with recovery codes, shown this once.
        expect(page.locator("#new-recovery-codes li")).to_have_count(10)
        page.get_by_role("link", name="I have saved them").click()
        expect(page.locator("#passkey-list")).to_contain_text("This laptop")

        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(f"{base}/accounts/login/")
        page.get_by_role("button", name="Sign in with a passkey").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        assert Passkey.objects.get(user=alice).last_used_at is not None
    finally:
        context.close()


def age_the_second_factor(page: Page) -> None:
    """Make this browser's last second factor older than the step-up window. The page is left
    first: every request saves the session, and one in flight would write the fresh time back."""
    page.goto("about:blank")
    page.wait_for_timeout(1000)
    [cookie] = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = SessionStore(session_key=cookie["value"])
    session[stepup.VERIFIED_AT] = time.time() - settings.STEP_UP_SECONDS - 1
    session.save()


def test_the_kill_switch_asks_for_the_second_factor(
    alice_linked: ExchangeAccount, alice_with_app: TotpBrowser
) -> None:
    page, base, secret = alice_with_app
    code_step(page, code_now(secret))
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    age_the_second_factor(page)

    page.goto(f"{base}/trade/kill-switch/")
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    code_step(page, code_now(secret, 1))
    expect(page.get_by_role("heading", name="Kill switch")).to_be_visible()
    # The second factor stands for the password here.
    expect(page.get_by_label("Your password")).to_have_count(0)
    page.get_by_label('Type "CLOSE ALL" to confirm').fill("CLOSE ALL")
    page.get_by_role("button", name="Cancel all and close all").click()
    expect(page.locator("#kill-result")).to_contain_text("No open positions to close.")

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_alice_logs_in_and_sees_the_live_dashboard_shell(
    browser: Any, daphne_url: str, alice: User, screenshot_dir: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{daphne_url}/")
        expect(page).to_have_url(f"{daphne_url}/accounts/login/?next=/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("correct username and password")

        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{daphne_url}/")
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expect(page.get_by_role("navigation", name="Main")).to_contain_text("Overview")
        # The WebSocket through daphne, the auth middleware and Redis is up.
        expect(page.locator("#conn-state")).to_have_text("Live", timeout=15_000)
        expect(page.locator('#system-status tr[data-part="database"] .pill')).to_have_text("ok")
        # Styles came from our own static files (whitenoise), not a CDN.
        background = page.evaluate("getComputedStyle(document.querySelector('.topbar')).display")
        assert background == "flex"
        page.screenshot(path=str(screenshot_dir / "dashboard-shell.png"), full_page=True)

        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(f"{daphne_url}/accounts/login/")
    finally:
        page.close()

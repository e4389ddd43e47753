"""Web Push end to end, offline: a price move toward liquidation goes from the simulator through
the price stream, the alert rules, a real Celery worker and pywebpush to a push-service
stand-in, which verifies the VAPID JWT and decrypts the body with the keys this test made for
the "browser"; the plaintext is handed to the real service worker over DevTools
(``ServiceWorker.deliverPushMessage``), as a push service would hand it to Chromium.

A real ``pushManager.subscribe()`` needs Google's push service, so an init script stands in for
it: it returns the stand-in's subscription and records the ``applicationServerKey`` the page
passed. Everything after that (the page posting the subscription, the server storing and using
it, the worker showing and replacing notifications, the click) is the product's own code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import ExchangeAccount
from portfolio.alerts import push
from portfolio.models import Alert, AlertDelivery, Position, PushSubscription
from tests.conftest import child_env, child_server, wait_for
from tests.e2e.conftest import (
    CLICK_NOTIFICATION,
    mark_for_health,
    set_mark,
    sw_notifications,
    wait_for_service_worker,
)
from tests.e2e.test_link_accounts import log_in
from tests.pushservice import Push, PushServer, PushService

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FAKE_SUBSCRIBE = """
(() => {
  const sub = %s;
  const b64url = (bytes) => btoa(String.fromCharCode(...bytes))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  const fake = () => ({
    endpoint: sub.endpoint, expirationTime: null, options: { userVisibleOnly: true },
    toJSON: () => ({ endpoint: sub.endpoint, expirationTime: null, keys: sub.keys }),
    unsubscribe: async () => { sessionStorage.removeItem("subscribed"); return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    sessionStorage.setItem("appKey", b64url(key));
    sessionStorage.setItem("appKeyLength", String(key.length));
    sessionStorage.setItem("subscribed", "1");
    return fake();
  };
  PushManager.prototype.getSubscription = async function () {
    return sessionStorage.getItem("subscribed") ? fake() : null;
  };
})();
"""

# The service worker's own view of its notifications (no page needed).
WORKER_NOTIFICATIONS = """async () => (await self.registration.getNotifications()).map((n) => ({
  title: n.title, tag: n.tag, requireInteraction: n.requireInteraction, data: n.data,
}))"""


@pytest.fixture
def push_service() -> Iterator[PushService]:
    with PushServer() as service:
        yield service


@pytest.fixture
def urgent_worker(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """A real Celery worker on the urgent queue, where pushes are sent from."""
    with django_db_blocker.unblock():
        env = child_env()
    args = [
        "-m",
        "celery",
        "-A",
        "standx_web",
        "worker",
        "--pool",
        "solo",
        "-l",
        "WARNING",
        "-Q",
        "sync_urgent",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
    ]
    with child_server("urgent worker", args, ready_path=None, env=env):
        yield


class Worker:
    """DevTools' ServiceWorker domain, from a page of the browser context."""

    def __init__(self, context: Any, page: Page, origin: str) -> None:
        self.page, self.origin = page, origin
        self.registrations: list[dict[str, Any]] = []
        self.cdp = context.new_cdp_session(page)
        self.cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda event: self.registrations.extend(event["registrations"]),
        )
        self.cdp.send("ServiceWorker.enable")

    def registration_id(self) -> str:
        def found() -> str | None:
            self.page.wait_for_timeout(50)  # lets Playwright deliver the DevTools events
            live = [
                r
                for r in self.registrations
                if r["scopeURL"] == f"{self.origin}/" and not r["isDeleted"]
            ]
            return live[-1]["registrationId"] if live else None

        return str(wait_for(found, 15))

    def deliver(self, pushed: Push) -> None:
        """Hand a push's decrypted payload to the service worker, as Chromium would."""
        self.cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": self.origin,
                "registrationId": self.registration_id(),
                "data": json.dumps(pushed.payload),
            },
        )


def turn_on_push(page: Page, base: str, push_service: PushService, device: str) -> str:
    """Log in as demo and tap "Turn on push for this device"; returns the key the page used."""
    log_in(page, base, "demo")
    wait_for_service_worker(page.context, timeout=30)  # registered by every page
    page.get_by_role("button", name="Alerts").click()
    page.locator("#alert-centre").get_by_role("button", name="Turn on push for this device").click()
    expect(page.locator("#alert-centre [data-push-state]")).to_have_text(
        "Push is on for this device: alerts arrive with every tab closed."
    )
    key = str(page.evaluate("sessionStorage.getItem('appKey')"))
    assert page.evaluate("sessionStorage.getItem('appKeyLength')") == "65"
    assert key == push.public_key()
    # From here the stand-in refuses a push signed with any other key.
    push_service.devices[device].server_key = key
    return key


def push_context(browser: Any, origin: str, subscription: dict[str, Any]) -> Any:
    """A browser context where notifications are allowed and subscribing yields
    ``subscription`` (the stand-in's)."""
    context = browser.new_context()
    context.grant_permissions(["notifications"], origin=origin)
    context.add_init_script(FAKE_SUBSCRIBE % json.dumps(subscription))
    return context


def pushed(push_service: PushService, device: str, prefix: str) -> Push:
    def found() -> Push | None:
        return next(
            (p for p in push_service.pushes_to(device) if p.payload["title"].startswith(prefix)),
            None,
        )

    result: Push = wait_for(found, 30)
    assert push_service.errors == []
    return result


@dataclass(frozen=True)
class Scene:
    """The demo user's SOL long near its critical level, with the price stream, an urgent
    worker and the push-service stand-in running."""

    account: ExchangeAccount
    position: Position
    push_service: PushService


@pytest.fixture
def scene(
    demo_with_sol_long: ExchangeAccount,
    pricestream: None,
    urgent_worker: None,
    push_service: PushService,
) -> Scene:
    position = Position.objects.get(account=demo_with_sol_long, symbol="SOL-USD")
    return Scene(demo_with_sol_long, position, push_service)


def test_a_push_reaches_the_service_worker_and_the_open_tab_shows_one_notification(
    browser: Any, daphne_url: str, sim_url: str, scene: Scene, screenshot_dir: Path
) -> None:
    account, position, push_service = scene.account, scene.position, scene.push_service
    context = push_context(browser, daphne_url, push_service.subscription("phone"))
    page = context.new_page()
    try:
        turn_on_push(page, daphne_url, push_service, "phone")
        device = PushSubscription.objects.get(user=account.owner)
        assert device.device_label == "Headless Chrome on Linux"
        worker = Worker(context, page, daphne_url)

        set_mark(sim_url, mark_for_health(position, Decimal("1.2")))
        critical = pushed(push_service, "phone", "Critical: SOL-USD (Demo) margin health")
        tag = f"standx-alert-{account.pk}-health-SOL-USD"
        assert critical.payload["tag"] == tag
        assert critical.claims["aud"] == push_service.origin
        assert critical.headers["urgency"] == "high"
        worker.deliver(critical)

        def shown(prefix: str) -> list[dict[str, Any]]:
            return [
                n
                for n in sw_notifications(page)
                if n["tag"] == tag and n["title"].startswith(prefix)
            ]

        [note] = wait_for(lambda: shown("Critical: SOL-USD (Demo) margin health"), 10)
        assert note["title"] == "Critical: SOL-USD (Demo) margin health 1.20×"
        assert note["requireInteraction"] is True
        # It says what to do, and tapping it opens that, filled in (never a send).
        assert note["body"].endswith(" margin to SOL-USD to get back to 2.30×.")
        assert note["data"]["url"] == f"/positions/{account.pk}/SOL-USD/fix/"
        # The tab's own notification and the push share the tag: the trader sees one.
        assert [n["tag"] for n in sw_notifications(page)].count(tag) == 1

        # The recovery's push has the same tag and replaces the critical notification.
        set_mark(sim_url, position.entry_price)
        resolved = pushed(push_service, "phone", "Resolved: SOL-USD (Demo) margin health back")
        assert resolved.payload["tag"] == tag
        worker.deliver(resolved)
        [back] = wait_for(lambda: shown("Resolved: SOL-USD (Demo) margin health back"), 10)
        assert back["requireInteraction"] is False
        assert [n["tag"] for n in sw_notifications(page)].count(tag) == 1

        # A click on it brings the open tab to the position.
        clicked = wait_for_service_worker(context).evaluate(CLICK_NOTIFICATION, tag)
        page.wait_for_url(f"**/#pos-{account.pk}-SOL-USD")
        assert clicked["left"] == 0

        # The history says where each notification went.
        page.goto(f"{daphne_url}/alerts/")
        history = page.locator("#alert-history")
        expect(history).to_contain_text(
            "Push · Headless Chrome on Linux: accepted by the push service (Accepted by the "
            "push service (201).)"
        )
        expect(history).to_contain_text("Open tab: shown")
        page.goto(f"{daphne_url}/settings/devices/")
        expect(page.locator(f"#device-{device.pk}")).to_contain_text("(this device)")
        expect(page.get_by_role("button", name="Turn off push on this device")).to_be_visible()
        expect(page.get_by_role("button", name="Turn on push for this device")).to_be_hidden()
        page.screenshot(path=str(screenshot_dir / "devices.png"))
    finally:
        context.close()


def test_with_the_tab_closed_the_worker_alone_shows_the_alert_and_a_gone_device_is_dropped(
    browser: Any, daphne_url: str, sim_url: str, scene: Scene
) -> None:
    account, position, push_service = scene.account, scene.position, scene.push_service
    context = push_context(browser, daphne_url, push_service.subscription("phone"))
    dashboard = context.new_page()
    try:
        turn_on_push(dashboard, daphne_url, push_service, "phone")
        # A second device whose browser has since dropped the subscription: its push service
        # answers 410 Gone.
        old = push.subscription_save(
            user_id=account.owner_id, data=push_service.subscription("old-laptop"), user_agent=""
        )
        push_service.answer("old-laptop", 410)
        # DevTools is reached through a blank page; the dashboard tab closes.
        blank = context.new_page()
        worker = Worker(context, blank, daphne_url)
        worker.registration_id()
        dashboard.close()

        set_mark(sim_url, mark_for_health(position, Decimal("1.2")))
        critical = pushed(push_service, "phone", "Critical: SOL-USD (Demo) margin health")
        wait_for(lambda: not PushSubscription.objects.filter(pk=old.pk).exists(), 15)
        gone = AlertDelivery.objects.get(target=f"push:{old.pk}")
        assert gone.status == "gone"
        worker.deliver(critical)

        sw = wait_for_service_worker(context)
        [note] = wait_for(lambda: sw.evaluate(WORKER_NOTIFICATIONS), 10)
        assert note["title"] == "Critical: SOL-USD (Demo) margin health 1.20×"
        assert note["requireInteraction"] is True

        # With no tab to focus, the click opens the position's fix in a new window: the margin
        # form filled in with the amount the notification named.
        clicked = sw.evaluate(CLICK_NOTIFICATION, note["tag"])
        assert clicked["opened"] == f"{daphne_url}/positions/{account.pk}/SOL-USD/fix/"
        fix = Alert.objects.get(rule__key="health-critical", status="firing").fix
        amount = fix.removeprefix("Add ").split(" ")[0].replace(",", "")
        page = context.new_page()
        page.goto(clicked["opened"])
        expect(page.get_by_label("Margin to add (DUSD)")).to_have_value(amount)
    finally:
        context.close()

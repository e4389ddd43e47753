"""The service worker, the manifest, subscribing and the devices page."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from portfolio.alerts import push
from portfolio.models import PushSubscription
from tests.portfolio.conftest import logged_in
from tests.pushservice import PushServer, PushService

pytestmark = pytest.mark.django_db

PHONE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/131.0 Mobile Safari/537.36"


@pytest.fixture
def service() -> Iterator[PushService]:
    with PushServer() as running:
        yield running


def post_json(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def test_the_service_worker_is_served_from_the_root_uncached() -> None:
    response = Client().get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    assert 'addEventListener("push"' in body
    assert 'addEventListener("pushsubscriptionchange"' in body
    assert settings.VAPID is not None
    assert settings.VAPID.public_key in body
    assert settings.VAPID.private_key not in body


def test_the_manifest_makes_the_dashboard_installable() -> None:
    response = Client().get("/manifest.webmanifest")
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])
    for icon in manifest["icons"]:
        assert Client().get(icon["src"]).status_code == 200


def test_every_page_links_the_manifest_and_the_push_key(alice: User) -> None:
    page = logged_in(alice).get("/").content.decode()
    assert 'rel="manifest"' in page
    assert f'name="push-key" content="{push.public_key()}"' in page
    assert 'name="theme-color"' in page


def test_a_browser_subscription_is_stored_for_the_user_with_its_device_name(
    alice: User, service: PushService
) -> None:
    client = logged_in(alice)
    response = post_json(
        client, "/push/subscriptions/", service.subscription("phone"), **{"User-Agent": PHONE_UA}
    )
    assert response.status_code == 201, response.content
    assert response.json()["device"] == "Chrome on Android"
    row = PushSubscription.objects.get()
    assert (row.user_id, row.device_label) == (alice.pk, "Chrome on Android")
    assert client.session[push.SESSION_DEVICES] == [row.pk]


def test_a_bad_subscription_gets_a_plain_error_and_stores_nothing(alice: User) -> None:
    response = post_json(logged_in(alice), "/push/subscriptions/", {"endpoint": 1})
    assert response.status_code == 400
    assert response.json()["error"] == "The subscription has no endpoint or keys."
    assert not PushSubscription.objects.exists()


def test_subscribing_needs_a_login_and_the_csrf_token(service: PushService) -> None:
    anonymous = post_json(Client(), "/push/subscriptions/", service.subscription("x"))
    assert anonymous.status_code == 302
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(User.objects.create_user("carol", password="x" * 12))
    assert post_json(strict, "/push/subscriptions/", service.subscription("y")).status_code == 403


def test_the_service_worker_renews_a_rotated_subscription_in_place(
    alice: User, service: PushService
) -> None:
    client = logged_in(alice)
    old = service.subscription("old")
    post_json(client, "/push/subscriptions/", old, **{"User-Agent": PHONE_UA})
    device = PushSubscription.objects.get()
    new = service.subscription("new")
    body = {"old_endpoint": old["endpoint"], "subscription": new}
    refused = post_json(client, "/push/subscriptions/renew/", body, Origin="https://evil.test")
    assert refused.status_code == 403
    renewed = post_json(client, "/push/subscriptions/renew/", body, Origin="http://testserver")
    assert renewed.status_code == 200
    device.refresh_from_db()
    assert device.endpoint == new["endpoint"]
    assert device.device_label == "Chrome on Android"
    assert PushSubscription.objects.count() == 1


def test_the_devices_page_lists_marks_and_removes_only_the_users_own(
    alice: User, bob: User, service: PushService
) -> None:
    mine = push.subscription_save(
        user_id=alice.pk, data=service.subscription("a"), user_agent=PHONE_UA
    )
    theirs = push.subscription_save(user_id=bob.pk, data=service.subscription("b"), user_agent="")
    client = logged_in(alice)
    page = client.get("/settings/devices/").content.decode()
    assert "Chrome on Android" in page
    assert hashlib.sha256(mine.endpoint.encode()).hexdigest() in page
    assert mine.endpoint not in page  # a capability URL never goes into a page
    assert client.post(f"/settings/devices/{theirs.pk}/remove/").status_code == 302
    assert PushSubscription.objects.filter(pk=theirs.pk).exists()
    client.post(f"/settings/devices/{mine.pk}/remove/")
    assert not PushSubscription.objects.filter(pk=mine.pk).exists()


def test_the_devices_page_sends_a_test_alert_and_says_what_happened(
    alice: User, service: PushService
) -> None:
    device = push.subscription_save(
        user_id=alice.pk, data=service.subscription("a"), user_agent=PHONE_UA
    )
    client = logged_in(alice)
    page = client.post(f"/settings/devices/{device.pk}/test/", follow=True).content.decode()
    assert "Test alert sent. Accepted by the push service (201)." in page
    assert len(service.pushes_to("a")) == 1
    service.answer("a", 410)
    page = client.post(f"/settings/devices/{device.pk}/test/", follow=True).content.decode()
    assert "Test alert not delivered. The push service says this device unsubscribed" in page
    assert not PushSubscription.objects.exists()


def test_logging_out_detaches_the_devices_this_session_subscribed(
    alice: User, service: PushService
) -> None:
    client = logged_in(alice)
    post_json(client, "/push/subscriptions/", service.subscription("here"))
    elsewhere = push.subscription_save(
        user_id=alice.pk, data=service.subscription("elsewhere"), user_agent=""
    )
    client.post("/accounts/logout/")
    assert list(PushSubscription.objects.values_list("pk", flat=True)) == [elsewhere.pk]


def test_the_page_turns_off_push_for_its_own_device_only(
    alice: User, bob: User, service: PushService
) -> None:
    data = service.subscription("a")
    push.subscription_save(user_id=alice.pk, data=data, user_agent="")
    endpoint = {"endpoint": data["endpoint"]}
    bobs_try = post_json(logged_in(bob), "/push/subscriptions/remove/", endpoint)
    assert bobs_try.json() == {"removed": False}
    assert post_json(logged_in(alice), "/push/subscriptions/remove/", endpoint).json() == {
        "removed": True
    }

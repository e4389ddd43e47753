"""Web Push delivery against the push-service stand-in over real HTTP: what each device's push
service receives (VAPID verified, body decrypted), and what 410, 429 and 500 do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import ExchangeAccount, User
from portfolio.alerts import push
from portfolio.models import AlertDelivery, AlertEvent, AlertSettings, PushSubscription
from tests.portfolio.alerts.test_evaluation import hold_sol, make_account, move
from tests.pushservice import PushServer, PushService

pytestmark = pytest.mark.django_db

PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36"
)
LAPTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Firefox/133.0"


@pytest.fixture
def service() -> Iterator[PushService]:
    with PushServer() as running:
        yield running


@pytest.fixture
def account(alice: User) -> ExchangeAccount:
    return make_account(alice)


def subscribe(
    user: User, service: PushService, device: str, ua: str = PHONE_UA
) -> PushSubscription:
    data = service.subscription(device, server_key=push.public_key())
    return push.subscription_save(user_id=user.pk, data=data, user_agent=ua)


def fire_critical(account: ExchangeAccount) -> AlertEvent:
    """SOL falls to a critical health; returns the event (push deliveries queued, not sent)."""
    hold_sol(account)
    move("91.1", timezone.now())
    return AlertEvent.objects.get(alert__rule__key="health-critical", kind="fired")


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Tasks queued after commit, recorded instead of sent to the broker."""
    from portfolio import jobs

    sent: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(jobs.app, "send_task", lambda name, args, **kw: sent.append((name, args)))
    return sent


def push_ids(queued: list[tuple[str, tuple[Any, ...]]]) -> list[int]:
    return [args[0] for name, args in queued if name == push.SEND_TASK]


def planned() -> list[int]:
    """The queued push deliveries (their tasks go after a commit these tests never make)."""
    return list(
        AlertDelivery.objects.filter(channel="push").order_by("pk").values_list("pk", flat=True)
    )


@pytest.fixture
def phone(alice: User, service: PushService) -> PushSubscription:
    return subscribe(alice, service, "phone")


def critical_delivery(account: ExchangeAccount) -> int:
    """The one push delivery of a critical alert on ``account``."""
    fire_critical(account)
    [delivery_id] = planned()
    return delivery_id


def test_a_critical_alert_reaches_every_device_encrypted_and_signed(
    alice: User,
    account: ExchangeAccount,
    service: PushService,
    queued: list[tuple[str, tuple[Any, ...]]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    phone = subscribe(alice, service, "phone")
    subscribe(alice, service, "laptop", LAPTOP_UA)
    with django_capture_on_commit_callbacks(execute=True):
        event = fire_critical(account)
    deliveries = list(AlertDelivery.objects.filter(event=event, channel="push"))
    assert sorted(d.device_label for d in deliveries) == ["Chrome on Android", "Firefox on Linux"]
    assert sorted(push_ids(queued)) == sorted(d.pk for d in deliveries)

    for delivery_id in push_ids(queued):
        assert push.push_deliver(delivery_id).status == "accepted"

    assert service.errors == []
    [received] = service.pushes_to("phone")
    assert received.payload["title"] == "Critical: SOL-USD (Main) margin health 1.21×"
    assert received.payload["tag"] == f"standx-alert-{account.pk}-health-SOL-USD"
    assert received.payload["requireInteraction"] is True
    # The health alert carries its fix: tapping opens it filled in (never a send).
    assert received.payload["url"] == f"/positions/{account.pk}/SOL-USD/fix/"
    assert received.payload["event"] == event.pk
    assert received.headers["ttl"] == str(12 * 3600)
    assert received.headers["urgency"] == "high"
    assert received.headers["topic"] == f"alert{event.alert_id}"
    assert received.claims["aud"] == service.origin
    assert settings.VAPID is not None
    assert received.claims["sub"] == settings.VAPID.subject
    assert received.key == push.public_key()
    assert len(service.pushes_to("laptop")) == 1
    # The payload is the alert's own words: no ciphertext, token or balance field.
    assert set(received.payload) == {
        "type",
        "event",
        "title",
        "body",
        "tag",
        "severity",
        "kind",
        "url",
        "at",
        "expires",
        "renotify",
        "requireInteraction",
    }
    assert "not-a-real-ciphertext" not in str(received.payload)
    phone.refresh_from_db()
    assert phone.last_success_at is not None
    assert AlertDelivery.objects.get(subscription=phone).status == "accepted"


def test_a_410_removes_that_device_and_the_other_still_gets_the_alert(
    alice: User, account: ExchangeAccount, service: PushService
) -> None:
    gone = subscribe(alice, service, "old-phone")
    subscribe(alice, service, "laptop", LAPTOP_UA)
    service.answer("old-phone", 410)
    fire_critical(account)
    outcomes = {push.push_deliver(i).status for i in planned()}
    assert outcomes == {"gone", "accepted"}
    assert not PushSubscription.objects.filter(pk=gone.pk).exists()
    assert len(service.pushes_to("laptop")) == 1
    lost = AlertDelivery.objects.get(device_label="Chrome on Android")
    assert (lost.status, lost.subscription_id) == ("gone", None)
    assert "unsubscribed (410)" in lost.detail


def test_a_busy_push_service_is_tried_again_after_its_retry_after(
    account: ExchangeAccount, service: PushService, phone: PushSubscription
) -> None:
    service.answer("phone", 429, retry_after="7")
    delivery_id = critical_delivery(account)
    first = push.push_deliver(delivery_id)
    assert first.retry_in == 7
    delivery = AlertDelivery.objects.get(pk=delivery_id)
    assert delivery.status == "queued"
    assert "rate-limiting us (429)" in delivery.detail
    assert push.push_deliver(delivery_id).status == "accepted"  # the retried task
    assert AlertDelivery.objects.get(pk=delivery_id).attempts == 2
    assert len(service.pushes_to("phone")) == 1
    assert PushSubscription.objects.get().failures == 0  # a success resets the count


def test_a_failing_push_service_is_given_up_on_after_the_cap(
    account: ExchangeAccount, service: PushService, phone: PushSubscription
) -> None:
    service.answer("phone", 500, times=push.MAX_ATTEMPTS)
    delivery_id = critical_delivery(account)
    waits = [push.push_deliver(delivery_id).retry_in for _ in range(push.MAX_ATTEMPTS)]
    assert all(w is not None and 0 < w <= push.MAX_BACKOFF_S for w in waits[:-1])
    assert waits[-1] is None
    delivery = AlertDelivery.objects.get(pk=delivery_id)
    assert delivery.status == "failed"
    assert "Gave up after 5 tries" in delivery.detail
    device = PushSubscription.objects.get()
    assert device.failures == push.MAX_ATTEMPTS
    assert "had an error (500)" in device.last_error


def test_a_delivery_is_sent_once_however_often_its_task_runs(
    account: ExchangeAccount, service: PushService, phone: PushSubscription
) -> None:
    delivery_id = critical_delivery(account)
    assert push.push_deliver(delivery_id).status == "accepted"
    assert push.push_deliver(delivery_id).status == "skipped"
    assert len(service.pushes_to("phone")) == 1


def test_a_claim_left_by_a_dead_worker_is_taken_over_after_two_minutes(
    account: ExchangeAccount, phone: PushSubscription
) -> None:
    delivery_id = critical_delivery(account)
    AlertDelivery.objects.filter(pk=delivery_id).update(
        status="sending", updated_at=timezone.now() - timedelta(seconds=30)
    )
    assert push.push_deliver(delivery_id).status == "skipped"  # another worker may be sending
    AlertDelivery.objects.filter(pk=delivery_id).update(
        updated_at=timezone.now() - push.STALE_CLAIM - timedelta(seconds=1)
    )
    assert push.push_deliver(delivery_id).status == "accepted"


def test_an_alert_too_old_to_matter_is_not_pushed(
    account: ExchangeAccount, service: PushService, phone: PushSubscription
) -> None:
    hold_sol(account)
    move("91.9", timezone.now() - timedelta(hours=1))  # a warning, relevant for 15 minutes
    move("91.9", timezone.now() - timedelta(minutes=59))  # ...after its 10 s pending
    [delivery_id] = planned()[:1]
    outcome = push.push_deliver(delivery_id)
    assert outcome.status == "failed"
    assert "Too old" in outcome.detail
    assert service.pushes_to("phone") == []


def test_quiet_hours_hold_back_warning_pushes_but_never_critical_ones(
    alice: User, account: ExchangeAccount, phone: PushSubscription
) -> None:
    AlertSettings.objects.filter(user=alice).update(
        snoozed_until=timezone.now() + timedelta(hours=1)
    )
    hold_sol(account)
    now = timezone.now()
    move("91.8", now)
    move("91.8", now + timedelta(seconds=11))  # the health warning fires, snoozed
    warning = AlertEvent.objects.get(alert__rule__key="health-warning")
    assert warning.delivered is False
    assert not AlertDelivery.objects.filter(event=warning).exists()
    move("91.1", now + timedelta(seconds=12))
    critical = AlertEvent.objects.get(alert__rule__key="health-critical")
    assert AlertDelivery.objects.filter(event=critical, channel="push").count() == 1


def test_a_test_alert_reaches_the_device_at_once(
    alice: User, bob: User, service: PushService, phone: PushSubscription
) -> None:
    outcome = push.push_send_check(user_id=alice.pk, subscription_id=phone.pk)
    assert outcome is not None
    assert outcome.status == "accepted"
    [received] = service.pushes_to("phone")
    assert received.payload["title"] == "Test alert from StandX Portfolio"
    assert "Chrome on Android" in received.payload["body"]
    assert push.push_send_check(user_id=bob.pk, subscription_id=phone.pk) is None


def test_the_vapid_claims_are_fresh_for_every_push_service(
    alice: User, service: PushService
) -> None:
    with PushServer() as other:
        first = subscribe(alice, service, "a")
        second = subscribe(alice, other, "b")
        push.push_send_check(user_id=alice.pk, subscription_id=first.pk)
        push.push_send_check(user_id=alice.pk, subscription_id=second.pk)
        # pywebpush writes "aud" into the claims it is given: a shared dict would carry the
        # first service's origin into the second push, which that service refuses.
        assert other.errors == []
        assert other.pushes_to("b")[0].claims["aud"] == other.origin

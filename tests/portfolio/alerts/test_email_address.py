"""The critical-alert email: a verified address, handed to the backend once per episode."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from accounts.models import ExchangeAccount, User
from portfolio.alerts import email as notify
from portfolio.alerts import email_address as alert_email
from portfolio.alerts import evaluation as alerting
from portfolio.models import AlertDelivery, AlertEvent, AlertSettings
from standx_web.launcher import demo_site_url
from tests.portfolio.alerts.test_evaluation import NOW, hold_sol, make_account, move
from tests.portfolio.conftest import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(alice: User) -> ExchangeAccount:
    return make_account(alice)


@pytest.fixture
def queued(monkeypatch: Any) -> list[tuple[str, tuple[Any, ...]]]:
    calls: list[tuple[str, tuple[Any, ...]]] = []

    def record(name: str, *args: Any) -> None:
        calls.append((name, args))

    monkeypatch.setattr(alerting, "queue_after_commit", record)
    monkeypatch.setattr(alert_email, "queue_after_commit", record)
    return calls


def verified(user: User, address: str = "alice@example.com") -> None:
    AlertSettings.objects.filter(user=user).update(email=address, email_verified_at=NOW)


@override_settings(SITE_URL="http://127.0.0.1:8123")
def test_it_verifies_an_address_by_the_signed_link_sent_to_it(
    alice: User, queued: list[tuple[str, tuple[Any, ...]]], django_capture_on_commit_callbacks: Any
) -> None:
    client = logged_in(alice)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portfolio:email_set"), {"email": "alice@example.com"})
    assert queued == [(alert_email.VERIFY_TASK, (alice.pk,))]
    assert AlertSettings.objects.get(user=alice).verified_email == ""
    assert alert_email.verification_send(alice.pk) is True
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    [link] = re.findall(r"http://127\.0\.0\.1:8123(/\S+)", str(message.body))
    page = client.get(link, follow=True).content.decode()
    assert "Confirmed: critical alerts will be emailed to alice@example.com." in page
    assert AlertSettings.objects.get(user=alice).verified_email == "alice@example.com"


def test_a_link_for_another_login_an_old_address_or_past_its_time_verifies_nothing(
    alice: User, bob: User, monkeypatch: Any
) -> None:
    alerting.rules_create_defaults(alice.pk)
    alerting.rules_create_defaults(bob.pk)
    alert_email.email_set(alice.pk, "alice@example.com")
    token = alert_email.verification_token(alice.pk, "alice@example.com")
    assert alert_email.email_verify(bob.pk, token) is None
    assert alert_email.email_verify(alice.pk, token + "x") is None
    later = time.time() + alert_email.VERIFY_MAX_AGE.total_seconds() + 1
    with monkeypatch.context() as m:
        m.setattr(time, "time", lambda: later)
        assert alert_email.email_verify(alice.pk, token) is None
    alert_email.email_set(alice.pk, "alice@example.org")
    assert alert_email.email_verify(alice.pk, token) is None
    assert AlertSettings.objects.get(user=alice).verified_email == ""


def test_without_a_verified_address_the_event_is_not_marked_emailed(
    account: ExchangeAccount, queued: list[tuple[str, tuple[Any, ...]]]
) -> None:
    AlertSettings.objects.filter(user=account.owner).update(email="alice@example.com")
    hold_sol(account)
    move("91.1")
    event = AlertEvent.objects.get(kind="fired", severity="critical")
    assert notify.alert_email_send(event.pk) is False
    event.refresh_from_db()
    assert event.emailed_at is None
    assert mail.outbox == []
    delivery = AlertDelivery.objects.get(event=event, channel="email")
    assert (delivery.status, delivery.detail) == ("skipped", notify.NO_ADDRESS)


def test_a_refused_mail_is_not_marked_emailed_and_the_retry_sends_it(
    account: ExchangeAccount, queued: list[tuple[str, tuple[Any, ...]]], monkeypatch: Any
) -> None:
    verified(account.owner)
    hold_sol(account)
    move("91.1")
    event = AlertEvent.objects.get(kind="fired", severity="critical")

    def refuse(**kwargs: Any) -> int:
        raise ConnectionRefusedError("smtp down")

    with monkeypatch.context() as m:
        m.setattr(notify, "send_mail", lambda *a, **k: refuse(**k))
        with pytest.raises(ConnectionRefusedError):
            notify.alert_email_send(event.pk)
    event.refresh_from_db()
    assert event.emailed_at is None
    assert AlertDelivery.objects.get(event=event, channel="email").status == "failed"
    assert notify.alert_email_send(event.pk) is True  # the task's retry
    assert notify.alert_email_send(event.pk) is False  # and nothing twice
    event.refresh_from_db()
    assert event.emailed_at is not None
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    delivery = AlertDelivery.objects.get(event=event, channel="email")
    assert (delivery.status, delivery.attempts) == ("sent", 2)


@pytest.mark.parametrize(("repeats", "emails"), [(False, 1), (True, 2)])
def test_a_lasting_critical_alert_is_emailed_once_unless_reminders_are_wanted(
    account: ExchangeAccount,
    queued: list[tuple[str, tuple[Any, ...]]],
    django_capture_on_commit_callbacks: Any,
    repeats: bool,
    emails: int,
) -> None:
    verified(account.owner)
    AlertSettings.objects.filter(user=account.owner).update(email_repeats=repeats)
    hold_sol(account)
    with django_capture_on_commit_callbacks(execute=True):
        move("91.1")
        move("91.1", NOW + timedelta(minutes=5, seconds=1))  # "still critical"
    kinds = list(
        AlertEvent.objects.filter(severity="critical").order_by("at").values_list("kind", flat=True)
    )
    assert kinds == ["fired", "repeated"]
    assert [name for name, _ in queued] == ["portfolio.send_alert_email"] * emails


def test_the_demo_links_to_its_own_port() -> None:
    assert demo_site_url("127.0.0.1", "8123") == "http://127.0.0.1:8123"
    assert demo_site_url("0.0.0.0", "9000") == "http://127.0.0.1:9000"
    assert demo_site_url("::1", "8000") == "http://[::1]:8000"

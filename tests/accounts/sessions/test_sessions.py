"""Signed-in sessions: hashed at rest, listed, signed out one by one or all but this one, ended
when the password or a second factor changes; a new device is announced by email."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.sessions.models import UserSession
from accounts.sessions.store import stored_key
from tests.accounts.conftest import TwoFactor, code_now, sign_in, signed_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)"
LAPTOP = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131"


def browser(ip: str, agent: str) -> Client:
    return Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)


def signed_in_browser(ip: str, agent: str) -> Client:
    client = browser(ip, agent)
    sign_in(client, "alice", PASSWORD, ip=ip)
    assert signed_in(client)
    return client


def test_the_session_table_holds_no_key_a_browser_could_present(
    client: Client, alice: User
) -> None:
    sign_in(client, "alice", PASSWORD)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    with connection.cursor() as cursor:
        cursor.execute("SELECT session_key FROM django_session")
        stored = [row[0] for row in cursor.fetchall()]
    assert key not in stored
    assert stored_key(key) in stored
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = stored_key(key)
    assert thief.get("/")["Location"].startswith("/accounts/login/")
    assert client.get("/").status_code == 200


def test_the_sessions_page_lists_each_browser_with_its_address_and_agent(alice: User) -> None:
    phone = signed_in_browser("198.51.100.7", PHONE)
    signed_in_browser("203.0.113.5", LAPTOP)
    html = phone.get(reverse("sessions")).content.decode()
    assert "198.51.100.7" in html and "203.0.113.5" in html
    assert "iPhone" in html and "Linux x86_64" in html
    assert html.count("(this browser)") == 1


def test_bob_sees_none_of_alices_sessions(alice: User, bob: User) -> None:
    signed_in_browser("198.51.100.7", PHONE)
    client = Client()
    client.force_login(bob)
    html = client.get(reverse("sessions")).content.decode()
    assert "198.51.100.7" not in html
    other = UserSession.objects.get(user=alice)
    client.post(reverse("session_sign_out", args=[other.pk]))
    assert UserSession.objects.filter(pk=other.pk).exists()


def test_sign_out_everywhere_else_keeps_only_this_browser(alice: User) -> None:
    phone = signed_in_browser("198.51.100.7", PHONE)
    laptop = signed_in_browser("203.0.113.5", LAPTOP)
    third = signed_in_browser("203.0.113.6", LAPTOP)
    response = phone.post(reverse("sessions_sign_out_others"), follow=True)
    assert "Signed out 2 other sessions." in response.content.decode()
    assert phone.get("/").status_code == 200
    for gone in (laptop, third):
        assert gone.get("/").status_code == 302
    assert UserSession.objects.filter(user=alice).count() == 1


def test_one_session_can_be_signed_out(alice: User) -> None:
    phone = signed_in_browser("198.51.100.7", PHONE)
    laptop = signed_in_browser("203.0.113.5", LAPTOP)
    target = UserSession.objects.get(user=alice, ip="203.0.113.5")
    phone.post(reverse("session_sign_out", args=[target.pk]))
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 200


def test_a_new_password_signs_out_the_other_sessions(alice: User) -> None:
    phone = signed_in_browser("198.51.100.7", PHONE)
    laptop = signed_in_browser("203.0.113.5", LAPTOP)
    new = "a brand new passphrase 42"
    response = phone.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response["Location"] == reverse("password_change_done")
    assert phone.get("/").status_code == 200
    assert laptop.get("/").status_code == 302
    assert list(UserSession.objects.filter(user=alice).values_list("ip", flat=True)) == [
        "198.51.100.7"
    ]
    assert Session.objects.count() == 1


def test_setting_up_a_second_factor_signs_out_the_other_sessions(alice: User) -> None:
    phone = signed_in_browser("198.51.100.7", PHONE)
    laptop = signed_in_browser("203.0.113.5", LAPTOP)
    secret = phone.get(reverse("totp_setup")).context["secret"].replace(" ", "")
    phone.post(reverse("totp_setup"), {"code": code_now(secret)})
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 200


def test_removing_a_second_factor_signs_out_the_other_sessions(
    alice: User, alice_2fa: TwoFactor
) -> None:
    phone, laptop = browser("198.51.100.7", PHONE), browser("203.0.113.5", LAPTOP)
    for step, client in enumerate((phone, laptop)):
        sign_in(client, "alice", PASSWORD)
        client.post(reverse("signin_second_factor"), {"code": code_now(alice_2fa.secret, step)})
        assert signed_in(client)
    phone.post(reverse("totp_remove"))
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 200


def test_a_sign_in_from_a_new_device_is_announced_by_email_once(
    alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    phone = browser("198.51.100.7", PHONE)
    with django_capture_on_commit_callbacks(execute=True):
        sign_in(phone, "alice", PASSWORD, ip="198.51.100.7")
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert "198.51.100.7" in message.body and "iPhone" in message.body
    assert "/accounts/sessions/" in message.body
    phone.post(reverse("logout"))  # the browser keeps its cookies (Client.logout would not)
    with django_capture_on_commit_callbacks(execute=True):
        sign_in(phone, "alice", PASSWORD, ip="198.51.100.7")  # the same browser again
        sign_in(browser("203.0.113.5", LAPTOP), "alice", PASSWORD, ip="203.0.113.5")
    assert len(mail.outbox) == 2
    assert "203.0.113.5" in mail.outbox[1].body


def test_last_seen_follows_the_session(alice: User) -> None:
    phone = signed_in_browser("198.51.100.7", PHONE)
    row = UserSession.objects.get(user=alice)
    UserSession.objects.filter(pk=row.pk).update(last_seen_at=row.last_seen_at.replace(year=2020))
    session = phone.session
    session["session_seen_at"] = 0
    session.save()
    phone.get("/", REMOTE_ADDR="198.51.100.99")
    row.refresh_from_db()
    assert row.last_seen_at.year > 2020
    assert row.ip == "198.51.100.99"

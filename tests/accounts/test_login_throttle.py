"""Sign-in throttles: per account and address, per address, and an account-wide ceiling that a
second factor or an emailed link gets past; the admin's login is the same page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from accounts import throttle
from accounts.models import User
from standx_web.redis_client import redis_client
from tests.accounts.conftest import TwoFactor, code_now, sign_in, signed_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def fail_from_many_addresses(username: str, count: int) -> None:
    for i in range(count):
        sign_in(Client(), username, "wrong", ip=f"10.0.{i // 200}.{i % 200 + 1}")


def reach_the_ceiling(username: str) -> None:
    """What ``fail_from_many_addresses`` does to the account-wide count, without the pages."""
    for _ in range(throttle.ACCOUNT.failures):
        throttle.record_failure(throttle.ACCOUNT, username)


def test_five_failures_lock_the_account_at_that_address_even_with_the_right_password(
    client: Client, alice: User
) -> None:
    for _ in range(5):
        assert "correct username and password" in sign_in(client, "alice", "wrong").content.decode()
    html = sign_in(client, "alice", PASSWORD).content.decode()
    assert "Too many failed logins for this account" in html
    assert not signed_in(client)


def test_a_lock_at_one_address_does_not_lock_the_owner_out_elsewhere(alice: User) -> None:
    attacker, owner = Client(), Client()
    for _ in range(10):
        sign_in(attacker, "alice", "wrong", ip="203.0.113.9")
    sign_in(owner, "alice", PASSWORD, ip="198.51.100.7")
    assert signed_in(owner)


def test_many_usernames_from_one_address_lock_that_address(client: Client, alice: User) -> None:
    for i in range(throttle.ADDRESS.failures):
        sign_in(client, f"guess{i}", "wrong")
    html = sign_in(client, "alice", PASSWORD).content.decode()
    assert "Too many failed logins from your address" in html
    assert not signed_in(client)


@pytest.mark.parametrize(
    ("seconds_left", "words"),
    [
        (14 * 60 + 1, "15 minutes"),
        (200, "4 minutes"),
        (61, "2 minutes"),
        (60, "1 minute"),
        (30, "30 seconds"),
    ],
)
def test_the_lock_message_says_how_long_is_left(
    client: Client, alice: User, seconds_left: int, words: str
) -> None:
    for _ in range(5):
        sign_in(client, "alice", "wrong")
    redis = redis_client()
    [lock] = list(redis.scan_iter("standx:throttle:pair:*:lock"))
    redis.pexpire(lock, seconds_left * 1000)
    html = sign_in(client, "alice", PASSWORD).content.decode()
    assert f"Try again in {words}." in html


def test_a_success_clears_the_count_for_that_address(client: Client, alice: User) -> None:
    for _ in range(4):
        sign_in(client, "alice", "wrong")
    sign_in(client, "alice", PASSWORD)
    assert signed_in(client)
    client.logout()
    for _ in range(4):
        sign_in(client, "alice", "wrong")
    sign_in(client, "alice", PASSWORD)
    assert signed_in(client)


def test_the_account_wide_ceiling_pauses_the_password_alone_from_every_address(
    alice: User,
) -> None:
    fail_from_many_addresses("alice", throttle.ACCOUNT.failures)
    owner = Client()
    html = sign_in(owner, "alice", PASSWORD, ip="198.51.100.7").content.decode()
    assert "signing in with the password alone is paused for 60 minutes" in html
    assert not signed_in(owner)


def test_past_the_ceiling_the_owner_signs_in_with_the_password_and_the_second_factor(
    alice: User, alice_2fa: TwoFactor
) -> None:
    reach_the_ceiling("alice")
    owner = Client()
    response = sign_in(owner, "alice", PASSWORD, ip="198.51.100.7")
    assert response["Location"].startswith("/accounts/login/second-factor/")
    owner.post(
        response["Location"], {"code": code_now(alice_2fa.secret)}, REMOTE_ADDR="198.51.100.7"
    )
    assert signed_in(owner)


def test_past_the_ceiling_a_wrong_password_is_not_revealed_before_the_second_factor(
    alice: User, alice_2fa: TwoFactor
) -> None:
    reach_the_ceiling("alice")
    guesser = Client()
    response = sign_in(guesser, "alice", "still wrong", ip="198.51.100.8")
    # The same answer as for the right password: on to the second step.
    assert response["Location"].startswith("/accounts/login/second-factor/")
    done = guesser.post(
        response["Location"],
        {"code": code_now(alice_2fa.secret)},
        REMOTE_ADDR="198.51.100.8",
        follow=True,
    )
    assert "correct username and password" in done.content.decode()
    assert not signed_in(guesser)


def test_an_emailed_link_lets_the_owner_past_the_ceiling_once(
    alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    reach_the_ceiling("alice")
    owner = Client(REMOTE_ADDR="198.51.100.7")
    with django_capture_on_commit_callbacks(execute=True):
        owner.post("/accounts/login/email/", {"username": "alice"})
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    path = re.search(r"https?://[^/\s]+(/accounts/login/email/[^\s]+/)", str(message.body))
    assert path is not None
    link = path.group(1)
    assert "Continue" in owner.get(link).content.decode()  # a mail scanner's GET uses nothing
    owner.post(link)
    sign_in(owner, "alice", PASSWORD, ip="198.51.100.7")
    assert signed_in(owner)

    other = Client(REMOTE_ADDR="198.51.100.8")
    response = other.post(link, follow=True)
    assert "unknown, expired or already used" in response.content.decode()


def test_the_email_link_never_says_whether_the_account_exists(
    client: Client, alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    for name in ("alice", "nobody"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/accounts/login/email/", {"username": name}, follow=True)
        assert "If that account has an email address" in response.content.decode()
    assert len(mail.outbox) == 1


def test_the_email_link_is_sent_only_a_few_times_an_hour(
    client: Client, alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    for _ in range(6):
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/accounts/login/email/", {"username": "alice"})
    assert len(mail.outbox) == throttle.LINK_ACCOUNT.failures


def test_the_admin_login_is_the_site_login_with_its_throttle(client: Client) -> None:
    staff = User.objects.create_user("root", "root@example.com", PASSWORD, is_staff=True)
    assert staff.is_staff
    response = client.get("/admin/")
    assert response["Location"].startswith("/admin/login/")
    response = client.get(response["Location"])
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    # Django's own admin form is gone: posting a right password there signs nobody in.
    client.post("/admin/login/", {"username": "root", "password": PASSWORD})
    assert not signed_in(client)
    for _ in range(30):
        client.post("/accounts/login/?next=/admin/", {"username": "root", "password": "wrong"})
    client.post("/accounts/login/?next=/admin/", {"username": "root", "password": PASSWORD})
    assert not signed_in(client)
    assert client.get("/admin/").status_code == 302


def test_a_non_staff_user_is_told_the_admin_is_not_theirs(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.get("/admin/login/?next=/admin/", follow=True)
    assert "Your account has no access to the admin." in response.content.decode()

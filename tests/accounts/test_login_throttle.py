from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clean_counters() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def attempt(client: Client, username: str, password: str) -> str:
    return client.post(
        "/accounts/login/", {"username": username, "password": password}
    ).content.decode()


def test_five_failures_lock_the_username_even_with_the_right_password(
    client: Client, alice: User
) -> None:
    for _ in range(5):
        assert "correct username and password" in attempt(client, "alice", "wrong")
    html = attempt(client, "alice", PASSWORD)
    assert "Too many failed logins" in html
    assert "_auth_user_id" not in client.session


def test_failures_from_one_ip_lock_other_usernames_too(client: Client, alice: User) -> None:
    for i in range(5):
        attempt(client, f"guess{i}", "wrong")
    assert "Too many failed logins" in attempt(client, "alice", PASSWORD)


def test_a_success_clears_the_count(client: Client, alice: User) -> None:
    for _ in range(4):
        attempt(client, "alice", "wrong")
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert "_auth_user_id" in client.session
    client.logout()
    for _ in range(4):
        attempt(client, "alice", "wrong")
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert "_auth_user_id" in client.session

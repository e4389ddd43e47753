from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import ExchangeAccount, User
from tests.factories import stored_secret

pytestmark = pytest.mark.django_db


def test_admin_pages_show_no_secret(
    client: Client, alice: User, alice_linked: ExchangeAccount, alice_standx: dict[str, Any]
) -> None:
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    pages = [
        "/admin/accounts/exchangeaccount/",
        f"/admin/accounts/exchangeaccount/{alice_linked.pk}/change/",
    ]
    for url in pages:
        html = client.get(url).content.decode()
        assert "Main" in html
        for secret in (
            alice_standx["token"],
            alice_standx["signing_key"],
            stored_secret(alice_linked),
        ):
            assert secret not in html, url
    assert "stored (encrypted)" in html


def test_staff_who_are_not_superusers_see_only_their_own_accounts(
    bob: User, alice_linked: ExchangeAccount
) -> None:
    from django.contrib.auth.models import Permission

    bob.is_staff = True
    bob.save()
    bob.user_permissions.add(*Permission.objects.filter(codename__endswith="exchangeaccount"))
    client = Client()
    client.force_login(bob)
    assert "Main" not in client.get("/admin/accounts/exchangeaccount/").content.decode()
    change = f"/admin/accounts/exchangeaccount/{alice_linked.pk}/change/"
    assert client.get(change).status_code == 302  # redirected away: not found for bob


def test_the_delete_credentials_action(
    client: Client, alice: User, alice_linked: ExchangeAccount
) -> None:
    alice.is_staff = alice.is_superuser = True
    alice.save()
    client.force_login(alice)
    client.post(
        "/admin/accounts/exchangeaccount/",
        {"action": "delete_credentials", "_selected_action": [alice_linked.pk]},
    )
    alice_linked.refresh_from_db()
    assert not alice_linked.credentials.exists()
    assert not alice_linked.sync_enabled


def test_synced_data_admin_is_read_only_and_scoped_to_the_owner(
    bob: User, alice_linked: ExchangeAccount
) -> None:
    from django.contrib.auth.models import Permission
    from django.utils import timezone

    from portfolio.models import SyncState

    SyncState.objects.create(account=alice_linked, next_due_at=timezone.now())
    bob.is_staff = True
    bob.save()
    bob.user_permissions.add(*Permission.objects.filter(codename="view_syncstate"))
    client = Client()
    client.force_login(bob)
    page = client.get("/admin/portfolio/syncstate/")
    assert page.status_code == 200
    assert "Main" not in page.content.decode()

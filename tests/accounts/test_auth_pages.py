from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_overview_requires_a_login(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_the_login_page_renders_with_local_assets_only(client: Client) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html
    assert 'autocomplete="current-password"' in html
    assert "/static/css/app." in html
    # Everything is served locally: no CDN, no external script or stylesheet.
    assert "https://" not in html
    assert "http://" not in html


def test_it_logs_alice_in_and_shows_the_dashboard(client: Client, alice: User) -> None:
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain == [("/", 302)]
    html = response.content.decode()
    assert "Overview" in html
    assert "Signed in as <strong>alice</strong>" in html
    assert "System status" in html


def test_it_rejects_a_wrong_password_with_a_clear_error(client: Client, alice: User) -> None:
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post_and_ends_the_session(client: Client, alice: User) -> None:
    client.force_login(alice)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302


def test_alice_can_change_her_password(client: Client, alice: User) -> None:
    client.force_login(alice)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "n3w-Pass-phrase!",
            "new_password2": "n3w-Pass-phrase!",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/done/"
    alice.refresh_from_db()
    assert alice.check_password("n3w-Pass-phrase!")


def test_a_bad_password_change_shows_field_errors_and_keeps_the_old_one(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    response = client.post(
        "/accounts/password/",
        {"old_password": "wrong", "new_password1": "abc", "new_password2": "abd"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Your old password was entered incorrectly" in html
    assert "The two password fields didn" in html
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_the_admin_is_at_admin_and_only_for_staff(client: Client, alice: User) -> None:
    client.force_login(alice)
    assert client.get("/admin/").status_code == 302
    alice.is_staff = alice.is_superuser = True
    alice.save()
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 200
    assert "alice" in response.content.decode()


def test_the_user_model_is_the_custom_one() -> None:
    from django.contrib.auth import get_user_model

    assert get_user_model() is User
    assert User._meta.db_table == "accounts_user"

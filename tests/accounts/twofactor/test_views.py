"""Two-factor sign-in, passkeys, the security page and step-up, through the pages."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from django.test import Client
from django.urls import reverse

from accounts import services as account_services
from accounts.models import ExchangeAccount, User
from accounts.signin import flow
from accounts.twofactor import stepup
from accounts.twofactor.models import Passkey, TotpDevice
from portfolio.trading import services as trading
from standx import keys as standx_keys
from tests.accounts.conftest import (
    TwoFactor,
    code_now,
    enrol_totp,
    sign_in,
    signed_in,
    trading_row,
)
from tests.accounts.twofactor.softkey import SoftPasskey
from tests.conftest import PASSWORD
from venues.standx import endpoints_for_simulator

pytestmark = pytest.mark.django_db


def post_json(client: Client, url: str, body: Any = None) -> Any:
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def add_passkey(client: Client, key: SoftPasskey, name: str = "Laptop") -> Any:
    options = json.loads(post_json(client, reverse("passkey_register_options")).json()["publicKey"])
    return post_json(
        client, reverse("passkey_register"), {"name": name, "credential": key.register(options)}
    )


def sign_with_passkey(client: Client, key: SoftPasskey, **kwargs: Any) -> Any:
    options = json.loads(post_json(client, reverse("passkey_sign_options")).json()["publicKey"])
    return post_json(client, reverse("passkey_sign") + "?next=/", key.sign(options, **kwargs))


def fresh_client_with_passkey(alice: User) -> tuple[SoftPasskey, Client]:
    client = Client()
    client.force_login(alice)
    key = SoftPasskey()
    assert add_passkey(client, key).status_code == 200
    return key, client


def test_alice_signs_in_with_her_password_then_an_authenticator_code(
    client: Client, alice: User, alice_2fa: TwoFactor
) -> None:
    response = sign_in(client, "alice", PASSWORD)
    assert response["Location"] == "/accounts/login/second-factor/?next=%2F"
    assert not signed_in(client)
    page = client.get(response["Location"]).content.decode()
    assert "Authenticator code or recovery code" in page
    response = client.post(response["Location"], {"code": code_now(alice_2fa.secret)})
    assert response["Location"] == "/"
    assert signed_in(client)


def test_a_wrong_code_keeps_her_at_the_second_step(
    client: Client, alice: User, alice_2fa: TwoFactor
) -> None:
    sign_in(client, "alice", PASSWORD)
    wrong = "000000" if code_now(alice_2fa.secret) != "000000" else "111111"
    response = client.post(reverse("signin_second_factor"), {"code": wrong})
    assert response.status_code == 400
    assert "That code is not valid" in response.content.decode()
    assert not signed_in(client)


def test_a_recovery_code_signs_her_in_once(alice: User, alice_2fa: TwoFactor) -> None:
    code = alice_2fa.recovery_codes[0]
    first, second = Client(), Client()
    sign_in(first, "alice", PASSWORD)
    first.post(reverse("signin_second_factor"), {"code": code})
    assert signed_in(first)
    sign_in(second, "alice", PASSWORD)
    response = second.post(reverse("signin_second_factor"), {"code": code})
    assert "already used" in response.content.decode()
    assert not signed_in(second)


def test_the_second_step_waits_five_minutes_at_most(
    client: Client, alice: User, alice_2fa: TwoFactor
) -> None:
    sign_in(client, "alice", PASSWORD)
    session = client.session
    session[flow.PENDING]["at"] = time.time() - flow.PENDING_S - 1
    session.save()
    response = client.post(reverse("signin_second_factor"), {"code": code_now(alice_2fa.secret)})
    assert response["Location"].startswith("/accounts/login/")
    assert not signed_in(client)


def test_the_security_page_sets_up_an_app_and_shows_the_recovery_codes_once(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    page = client.get(reverse("totp_setup"))
    assert "<svg" in page.content.decode()
    assert page["Cache-Control"].startswith("max-age=0")
    secret = page.context["secret"].replace(" ", "")
    shown = client.post(reverse("totp_setup"), {"code": code_now(secret)}).content.decode()
    assert shown.count("<li><code>") == 10
    again = client.get(reverse("security")).content.decode()
    assert "10 of 10 unused" in again
    assert "<li><code>" not in again
    assert TotpDevice.objects.get(user=alice).confirmed_at is not None


def test_removing_the_app_asks_for_the_second_factor_first(
    client: Client, alice: User, alice_2fa: TwoFactor
) -> None:
    client.force_login(alice)  # signed in earlier: no second factor shown in this session yet
    response = client.post(reverse("totp_remove"))
    assert response["Location"] == stepup.verify_url(reverse("security"))
    assert TotpDevice.objects.filter(user=alice).exists()
    done = client.post(
        response["Location"], {"code": code_now(alice_2fa.secret), "next": "/accounts/security/"}
    )
    assert done["Location"] == reverse("security")
    client.post(reverse("totp_remove"))
    assert not TotpDevice.objects.filter(user=alice).exists()


def test_a_passkey_is_added_and_then_signs_in_without_a_password(alice: User) -> None:
    key, _ = fresh_client_with_passkey(alice)
    passkey = Passkey.objects.get(user=alice)
    assert passkey.name == "Laptop"
    stranger = Client()
    response = sign_with_passkey(stranger, key)
    assert response.json() == {"redirect": "/"}
    assert signed_in(stranger)
    assert stepup.VERIFIED_AT in stranger.session  # a passkey counts as the second factor


def test_the_first_passkey_comes_with_recovery_codes(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    answer = add_passkey(client, SoftPasskey()).json()
    assert len(answer["codes"]) == 10


def test_a_passkey_is_the_second_factor_after_the_password(alice: User) -> None:
    key, _ = fresh_client_with_passkey(alice)
    client = Client()
    assert sign_in(client, "alice", PASSWORD)["Location"].startswith(
        "/accounts/login/second-factor/"
    )
    assert "Use a passkey" in client.get(reverse("signin_second_factor")).content.decode()
    sign_with_passkey(client, key)
    assert signed_in(client)


def test_a_passkey_answer_cannot_be_replayed(alice: User) -> None:
    key, _ = fresh_client_with_passkey(alice)
    client = Client()
    options = json.loads(post_json(client, reverse("passkey_sign_options")).json()["publicKey"])
    answer = key.sign(options)
    assert post_json(client, reverse("passkey_sign"), answer).status_code == 200
    other = Client()
    post_json(other, reverse("passkey_sign_options"))
    response = post_json(other, reverse("passkey_sign"), answer)
    assert response.status_code == 400
    assert not signed_in(other)


def test_a_passkey_without_user_verification_is_refused(alice: User) -> None:
    key, _ = fresh_client_with_passkey(alice)
    client = Client()
    response = sign_with_passkey(client, key, verified=False)
    assert response.status_code == 400
    assert "did not verify" in response.json()["error"]
    assert not signed_in(client)


def test_bob_cannot_remove_alices_passkey(alice: User, bob: User) -> None:
    fresh_client_with_passkey(alice)
    passkey = Passkey.objects.get(user=alice)
    client = Client()
    client.force_login(bob)
    client.post(reverse("passkey_remove", args=[passkey.pk]))
    assert Passkey.objects.filter(pk=passkey.pk).exists()


def test_the_kill_switch_asks_for_the_second_factor_instead_of_the_password(
    client: Client, alice: User, alice_2fa: TwoFactor
) -> None:
    trading_row(alice)
    client.force_login(alice)
    url = reverse("portfolio:kill_switch")
    response = client.get(url)
    assert response["Location"] == stepup.verify_url(url)
    posted = client.post(url, {"phrase": "CLOSE ALL"})
    assert posted["Location"].startswith(reverse("second_factor_verify"))
    client.post(response["Location"], {"code": code_now(alice_2fa.secret), "next": url})
    form = client.get(url).context["form"]
    assert "password" not in form.fields
    assert "phrase" in form.fields


def test_a_step_up_lasts_five_minutes(client: Client, alice: User, alice_2fa: TwoFactor) -> None:
    client.force_login(alice)
    url = reverse("portfolio:kill_switch")
    client.post(stepup.verify_url(url), {"code": code_now(alice_2fa.secret), "next": url})
    assert client.get(url).status_code == 200
    session = client.session
    session[stepup.VERIFIED_AT] = time.time() - 301
    session.save()
    assert client.get(url).status_code == 302


def test_without_a_second_factor_the_kill_switch_still_asks_the_password(
    client: Client, alice: User
) -> None:
    trading_row(alice)
    client.force_login(alice)
    assert "password" in client.get(reverse("portfolio:kill_switch")).context["form"].fields


def test_unlinking_asks_for_the_second_factor_again(
    client: Client, alice: User, alice_2fa: TwoFactor
) -> None:
    account = trading_row(alice)
    client.force_login(alice)
    response = client.post(reverse("account_unlink", args=[account.pk]))
    assert response["Location"] == stepup.verify_url(reverse("account_list"))
    assert ExchangeAccount.objects.filter(pk=account.pk).exists()
    client.post(response["Location"], {"code": code_now(alice_2fa.secret), "next": "/"})
    client.post(reverse("account_unlink", args=[account.pk]))
    assert not ExchangeAccount.objects.filter(pk=account.pk).exists()


def test_with_the_setting_on_linking_for_trading_needs_a_second_factor(
    alice: User, settings: Any
) -> None:
    settings.REQUIRE_SECOND_FACTOR_FOR_TRADING = True
    token = jwt.encode({"address": "0xabc", "exp": int(time.time()) + 3600}, "k" * 32)
    with pytest.raises(account_services.LinkError, match="requires a second factor for trading"):
        account_services.account_link_with_token(
            owner=alice,
            label="Main",
            token=token,
            signing_key=standx_keys.seed_base58(standx_keys.new_signing_key()),
            endpoints=endpoints_for_simulator("http://127.0.0.1:1"),
        )
    with pytest.raises(account_services.LinkError, match="requires a second factor for trading"):
        account_services.account_link_begin_wallet(
            owner=alice,
            chain="bsc",
            address="0xabc",
            endpoints=endpoints_for_simulator("http://127.0.0.1:1"),
        )


def test_with_the_setting_on_an_account_already_in_trading_mode_cannot_trade_without_one(
    alice: User, settings: Any
) -> None:
    account = trading_row(alice)
    settings.REQUIRE_SECOND_FACTOR_FOR_TRADING = True
    with pytest.raises(trading.TradingError, match="requires a second factor for trading"):
        trading.trading_account(alice.pk, account.pk)
    enrol_totp(alice)
    with pytest.raises(trading.TradingError, match="cannot be read"):
        trading.trading_account(alice.pk, account.pk)  # past the refusal: on to the key


def test_admin_sign_in_uses_the_same_second_factor(client: Client) -> None:
    root = User.objects.create_user(
        "root", "root@example.com", PASSWORD, is_staff=True, is_superuser=True
    )
    factor = enrol_totp(root)
    response = client.post(
        "/accounts/login/?next=/admin/", {"username": "root", "password": PASSWORD}
    )
    assert response["Location"] == "/accounts/login/second-factor/?next=%2Fadmin%2F"
    assert client.get("/admin/").status_code == 302
    client.post(response["Location"], {"code": code_now(factor.secret)})
    assert client.get("/admin/").status_code == 200

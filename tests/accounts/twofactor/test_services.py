from __future__ import annotations

import base64
import os
import time
from typing import Any

import pytest
from django.db import connection

from accounts import services as account_services
from accounts.models import User
from accounts.twofactor import services, totp
from accounts.twofactor.models import RecoveryCode, TotpDevice
from tests.accounts.conftest import TwoFactor, code_now, enrol_totp, trading_row

pytestmark = pytest.mark.django_db


def test_it_confirms_an_enrolment_with_a_code_and_hands_out_ten_recovery_codes(
    alice: User,
) -> None:
    secret = services.totp_enrol_begin(user=alice)
    assert not services.user_has_second_factor(alice)
    with pytest.raises(services.TwoFactorError, match="does not match"):
        services.totp_enrol_confirm(
            user=alice, code="000000" if code_now(secret) != "000000" else "111111"
        )
    codes = services.totp_enrol_confirm(user=alice, code=code_now(secret))
    assert len(codes) == 10
    assert services.user_has_second_factor(alice)


def test_the_secret_is_stored_only_encrypted(alice: User, alice_2fa: TwoFactor) -> None:
    device = TotpDevice.objects.get(user=alice)
    assert device.secret_encrypted.startswith("v1.")
    assert alice_2fa.secret not in device.secret_encrypted
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_totpdevice")
        assert alice_2fa.secret not in repr(cursor.fetchall())
    assert alice_2fa.secret not in repr(device) + str(device)


def test_recovery_codes_are_stored_hashed(alice: User, alice_2fa: TwoFactor) -> None:
    stored = list(RecoveryCode.objects.filter(user=alice).values_list("code_hash", flat=True))
    assert len(stored) == 10
    for code in alice_2fa.recovery_codes:
        assert code not in stored
        assert code.replace("-", "") not in "".join(stored)


def test_it_rejects_a_reused_totp_code(alice: User, alice_2fa: TwoFactor) -> None:
    code = code_now(alice_2fa.secret)
    assert services.factor_verify_code(user=alice, code=code, ip="198.51.100.1") == "totp"
    with pytest.raises(services.TwoFactorError, match="already used"):
        services.factor_verify_code(user=alice, code=code, ip="198.51.100.1")


def test_it_rejects_an_older_code_once_a_newer_one_was_used(
    alice: User, alice_2fa: TwoFactor
) -> None:
    services.factor_verify_code(user=alice, code=code_now(alice_2fa.secret, 1), ip=None)
    with pytest.raises(services.TwoFactorError):
        services.factor_verify_code(user=alice, code=code_now(alice_2fa.secret), ip=None)


@pytest.mark.parametrize(("steps", "accepted"), [(-2, False), (-1, True), (1, True), (2, False)])
def test_it_accepts_a_code_one_step_off_but_not_two(
    alice: User, steps: int, accepted: bool
) -> None:
    secret = services.totp_enrol_begin(user=alice)
    now = time.time()
    services.totp_enrol_confirm(user=alice, code=totp.code_at(secret, now - 90), now=now - 60)
    code = totp.code_at(secret, now + steps * totp.STEP_S)
    if accepted:
        assert services.factor_verify_code(user=alice, code=code, ip=None, now=now) == "totp"
    else:
        with pytest.raises(services.TwoFactorError):
            services.factor_verify_code(user=alice, code=code, ip=None, now=now)


def test_each_recovery_code_works_once(alice: User, alice_2fa: TwoFactor) -> None:
    code = alice_2fa.recovery_codes[3]
    assert services.factor_verify_code(user=alice, code=code.upper(), ip=None) == "recovery"
    with pytest.raises(services.TwoFactorError, match="already used"):
        services.factor_verify_code(user=alice, code=code, ip=None)
    assert services.recovery_codes_left(alice) == 9


def test_bob_cannot_use_alices_recovery_code(alice: User, alice_2fa: TwoFactor, bob: User) -> None:
    enrol_totp(bob)
    with pytest.raises(services.TwoFactorError):
        services.factor_verify_code(user=bob, code=alice_2fa.recovery_codes[0], ip=None)


def test_new_recovery_codes_replace_the_old_ones(alice: User, alice_2fa: TwoFactor) -> None:
    fresh = services.recovery_codes_regenerate(user=alice)
    with pytest.raises(services.TwoFactorError):
        services.factor_verify_code(user=alice, code=alice_2fa.recovery_codes[0], ip=None)
    assert services.factor_verify_code(user=alice, code=fresh[0], ip=None) == "recovery"


def test_wrong_codes_lock_authenticator_codes_but_not_recovery_codes(
    alice: User, alice_2fa: TwoFactor
) -> None:
    wrong = "000000" if code_now(alice_2fa.secret) != "000000" else "111111"
    for i in range(40):
        with pytest.raises(services.TwoFactorError):
            services.factor_verify_code(user=alice, code=wrong, ip=f"10.1.0.{i + 1}")
    with pytest.raises(services.TwoFactorError, match="codes work again in 60 minutes"):
        services.factor_verify_code(user=alice, code=code_now(alice_2fa.secret), ip="10.9.9.9")
    code = alice_2fa.recovery_codes[0]
    assert services.factor_verify_code(user=alice, code=code, ip="10.9.9.9") == "recovery"


def test_removing_the_authenticator_app_drops_the_recovery_codes(
    alice: User, alice_2fa: TwoFactor
) -> None:
    services.totp_remove(user=alice)
    assert not services.user_has_second_factor(alice)
    assert not RecoveryCode.objects.filter(user=alice).exists()


def test_with_the_setting_on_a_traders_last_factor_cannot_be_removed(
    alice: User, alice_2fa: TwoFactor, settings: Any
) -> None:
    settings.REQUIRE_SECOND_FACTOR_FOR_TRADING = True
    trading_row(alice)
    with pytest.raises(services.TwoFactorError, match="requires a second factor"):
        services.totp_remove(user=alice)
    settings.REQUIRE_SECOND_FACTOR_FOR_TRADING = False
    services.totp_remove(user=alice)


def test_with_the_setting_on_trading_is_refused_in_words_without_a_factor(
    alice: User, settings: Any
) -> None:
    assert services.trading_refusal(alice) is None
    settings.REQUIRE_SECOND_FACTOR_FOR_TRADING = True
    refusal = services.trading_refusal(alice)
    assert refusal is not None and "requires a second factor for trading" in refusal
    enrol_totp(alice)
    assert services.trading_refusal(alice) is None


def test_rotating_the_keys_re_encrypts_the_authenticator_secret(
    alice: User, alice_2fa: TwoFactor, settings: Any
) -> None:
    old = TotpDevice.objects.get(user=alice).secret_encrypted
    new_key = base64.b64encode(os.urandom(32)).decode()
    settings.CREDENTIAL_KEYS = [new_key, *settings.CREDENTIAL_KEYS]
    counts = account_services.rotate_credential_keys()
    assert counts["totp_rotated"] == 1
    settings.CREDENTIAL_KEYS = [new_key]  # the old key dropped: codes still check
    assert TotpDevice.objects.get(user=alice).secret_encrypted != old
    code = code_now(alice_2fa.secret)
    assert services.factor_verify_code(user=alice, code=code, ip=None) == "totp"

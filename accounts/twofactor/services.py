"""Write-side operations on second factors. Codes are checked here; the sign-in and step-up
pages only pass them through."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import crypto, throttle
from accounts.models import AccountMode, ExchangeAccount, User
from accounts.twofactor import recovery, totp
from accounts.twofactor.models import Passkey, RecoveryCode, TotpDevice

ISSUER = "StandX Portfolio"


class TwoFactorError(Exception):
    """A second-factor step failed; the message is safe to show and never holds a secret."""


def user_has_second_factor(user: User) -> bool:
    return (
        TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
        or Passkey.objects.filter(user=user).exists()
    )


def user_has_totp(user: User) -> bool:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


@transaction.atomic
def totp_enrol_begin(*, user: User) -> str:
    """A fresh secret for the app to scan; replaces an unconfirmed one. Returns the secret."""
    if user_has_totp(user):
        raise TwoFactorError("An authenticator app is already set up; remove it first.")
    secret = totp.new_secret()
    device, _ = TotpDevice.objects.select_for_update().get_or_create(
        user=user, defaults={"secret_encrypted": ""}
    )
    device.secret_encrypted = crypto.encrypt(secret, context=device.secret_context())
    device.last_used_step = 0
    device.save(update_fields=["secret_encrypted", "last_used_step"])
    return secret


def totp_pending_secret(*, user: User) -> str | None:
    """The secret of an enrolment not yet confirmed (to show its QR code again), or None."""
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()
    if device is None:
        return None
    return crypto.decrypt(device.secret_encrypted, context=device.secret_context())


def totp_provisioning_uri(*, user: User, secret: str) -> str:
    return totp.provisioning_uri(secret, account=user.get_username(), issuer=ISSUER)


@transaction.atomic
def totp_enrol_confirm(*, user: User, code: str, now: float | None = None) -> list[str]:
    """Confirm the enrolment with a first code. Returns new recovery codes (to show once) when
    the user had none left, else an empty list."""
    device = TotpDevice.objects.select_for_update().filter(user=user).first()
    if device is None or device.confirmed_at is not None:
        raise TwoFactorError("Start the set-up again: there is no authenticator app waiting.")
    step = _matching_step(device, code, now)
    if step is None:
        raise TwoFactorError(
            "That code does not match. Check the app shows “StandX Portfolio” and that the "
            "phone's clock is right, then enter the current code."
        )
    device.confirmed_at = timezone.now()
    device.last_used_step = step
    device.save(update_fields=["confirmed_at", "last_used_step"])
    return _first_recovery_codes(user)


def _matching_step(device: TotpDevice, code: str, now: float | None) -> int | None:
    secret = crypto.decrypt(device.secret_encrypted, context=device.secret_context())
    return totp.matching_step(
        secret, code.strip().replace(" ", ""), time.time() if now is None else now
    )


@transaction.atomic
def totp_remove(*, user: User) -> None:
    _refuse_if_trading_needs_it(user, removing="totp")
    TotpDevice.objects.filter(user=user).delete()
    _drop_recovery_codes_if_no_factor(user)


@transaction.atomic
def recovery_codes_regenerate(*, user: User) -> list[str]:
    """Ten new codes; every earlier code stops working."""
    if not user_has_second_factor(user):
        raise TwoFactorError("Set up an authenticator app or a passkey first.")
    RecoveryCode.objects.filter(user=user).delete()
    codes = recovery.new_codes()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=recovery.digest(c)) for c in codes
    )
    return codes


def _first_recovery_codes(user: User) -> list[str]:
    if RecoveryCode.objects.filter(user=user, used_at__isnull=True).exists():
        return []
    return recovery_codes_regenerate(user=user)


def _drop_recovery_codes_if_no_factor(user: User) -> None:
    if not user_has_second_factor(user):
        RecoveryCode.objects.filter(user=user).delete()


def _refuse_if_trading_needs_it(
    user: User, *, removing: str, passkey_id: int | None = None
) -> None:
    """With REQUIRE_SECOND_FACTOR_FOR_TRADING on, the last factor of a trader stays."""
    if not settings.REQUIRE_SECOND_FACTOR_FOR_TRADING:
        return
    has_totp = user_has_totp(user) and removing != "totp"
    passkeys = Passkey.objects.filter(user=user)
    if passkey_id is not None:
        passkeys = passkeys.exclude(pk=passkey_id)
    if has_totp or passkeys.exists():
        return
    if ExchangeAccount.objects.filter(owner=user, mode=AccountMode.TRADING).exists():
        raise TwoFactorError(
            "This server requires a second factor for accounts linked for trading: unlink them "
            "(or link them again read-only) before removing your last second factor."
        )


def factor_verify_code(*, user: User, code: str, ip: str | None, now: float | None = None) -> str:
    """Check an authenticator code or a recovery code. Returns "totp" or "recovery".

    Throttled with the sign-in failures (per account and address, per address) and, for
    authenticator codes, an account-wide ceiling that leaves recovery codes and passkeys open.
    """
    username, address = user.get_username(), ip or "unknown"
    is_recovery = recovery.looks_like_recovery_code(code)
    for limit, parts in _code_limits(username, address, is_recovery):
        wait = throttle.locked_for(limit, *parts)
        if wait:
            raise TwoFactorError(_code_lock_message(limit, wait))
    method = _recovery_code_use(user, code) if is_recovery else _totp_use(user, code, now)
    if method is None:
        for limit, parts in _code_limits(username, address, is_recovery):
            throttle.record_failure(limit, *parts)
        raise TwoFactorError(
            "That recovery code is not valid or was already used."
            if is_recovery
            else "That code is not valid, or it was already used: wait for the next one."
        )
    throttle.clear(throttle.ACCOUNT_AT_ADDRESS, username, address)
    return method


def _code_limits(
    username: str, address: str, is_recovery: bool
) -> list[tuple[throttle.Limit, tuple[str, ...]]]:
    limits = [
        (throttle.ACCOUNT_AT_ADDRESS, (username, address)),
        (throttle.ADDRESS, (address,)),
    ]
    if not is_recovery:
        limits.append((throttle.TOTP_ACCOUNT, (username,)))
    return limits


def _code_lock_message(limit: throttle.Limit, wait: int) -> str:
    left = throttle.wait_words(wait)
    if limit is throttle.TOTP_ACCOUNT:
        return (
            f"Too many wrong authenticator codes for this account: codes work again in {left}. "
            "A passkey or a recovery code works now."
        )
    return f"Too many failed attempts. Try again in {left}."


def _totp_use(user: User, code: str, now: float | None) -> str | None:
    with transaction.atomic():
        device = (
            TotpDevice.objects.select_for_update()
            .filter(user=user, confirmed_at__isnull=False)
            .first()
        )
        if device is None:
            return None
        step = _matching_step(device, code, now)
        # A step at or before the last accepted one is a replay (or an older code): refused.
        if step is None or step <= device.last_used_step:
            return None
        device.last_used_step = step
        device.save(update_fields=["last_used_step"])
    return "totp"


def _recovery_code_use(user: User, code: str) -> str | None:
    used = RecoveryCode.objects.filter(
        user=user, code_hash=recovery.digest(code), used_at__isnull=True
    ).update(used_at=timezone.now())
    return "recovery" if used else None


@transaction.atomic
def passkey_add(
    *,
    user: User,
    name: str,
    credential_id: bytes,
    public_key: bytes,
    sign_count: int,
    transports: list[str],
) -> tuple[Passkey, list[str]]:
    """Store a verified passkey. Returns it and new recovery codes when the user had none."""
    passkey = Passkey.objects.create(
        user=user,
        name=name.strip()[:60] or "Passkey",
        credential_id=credential_id,
        public_key=public_key,
        sign_count=sign_count,
        transports=transports,
    )
    return passkey, _first_recovery_codes(user)


@transaction.atomic
def passkey_remove(*, user: User, passkey_id: int) -> bool:
    _refuse_if_trading_needs_it(user, removing="passkey", passkey_id=passkey_id)
    deleted, _ = Passkey.objects.filter(user=user, pk=passkey_id).delete()
    _drop_recovery_codes_if_no_factor(user)
    return bool(deleted)


def passkey_used(*, passkey: Passkey, sign_count: int) -> None:
    Passkey.objects.filter(pk=passkey.pk).update(sign_count=sign_count, last_used_at=timezone.now())


def trading_refusal(user: User) -> str | None:
    """Why this user may not trade or link for trading now (None: they may)."""
    if settings.REQUIRE_SECOND_FACTOR_FOR_TRADING and not user_has_second_factor(user):
        return (
            "This server requires a second factor for trading: set up an authenticator app or "
            "a passkey under Security first (or link the account read-only, without a signing "
            "key)."
        )
    return None


def totp_secrets_rotate(keys: list[crypto.Key]) -> int:
    """Re-encrypt every authenticator secret under the newest of ``keys``. Returns how many."""
    rotated = 0
    for device_id in TotpDevice.objects.values_list("pk", flat=True):
        with transaction.atomic():
            device = TotpDevice.objects.select_for_update().get(pk=device_id)
            if crypto.key_id_of(device.secret_encrypted) == keys[0].id:
                continue
            context = device.secret_context()
            secret = crypto.decrypt(device.secret_encrypted, context=context, keys=keys)
            device.secret_encrypted = crypto.encrypt(secret, context=context, keys=keys)
            device.save(update_fields=["secret_encrypted"])
            rotated += 1
    return rotated

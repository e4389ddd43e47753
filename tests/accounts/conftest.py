"""Linking fixtures (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import pytest
from django.test import Client

from accounts.models import AccountMode, AccountStatus, ExchangeAccount, User
from accounts.twofactor import services as twofactor
from accounts.twofactor import totp
from tests.factories import make_account


@pytest.fixture(autouse=True)
def simulator_links_allowed(settings: Any) -> None:
    # These tests link accounts on the simulator's origin, as demo mode allows.
    settings.STANDX_ALLOW_CUSTOM_ENDPOINTS = True


class TwoFactor(NamedTuple):
    secret: str
    recovery_codes: list[str]


def code_now(secret: str, steps_ahead: int = 0) -> str:
    return totp.code_at(secret, time.time() + steps_ahead * totp.STEP_S)


def enrol_totp(user: User) -> TwoFactor:
    """The user's authenticator app, set up and confirmed with the previous step's code (so the
    current code is still unused)."""
    secret = twofactor.totp_enrol_begin(user=user)
    codes = twofactor.totp_enrol_confirm(user=user, code=code_now(secret, -1))
    return TwoFactor(secret, codes)


@pytest.fixture
def alice_2fa(alice: User) -> TwoFactor:
    return enrol_totp(alice)


@pytest.fixture
def alice_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


def sign_in(client: Client, username: str, password: str, ip: str = "127.0.0.1") -> Any:
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def trading_row(owner: User) -> ExchangeAccount:
    """A verified account in trading mode, as a row only (nothing in it can reach an exchange)."""
    return make_account(
        owner, "Main", "0xabc", mode=AccountMode.TRADING, status=AccountStatus.VERIFIED
    )

"""A full database dump holds neither the token nor the signing key, in any encoding."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import base58
import pgserver
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from eth_account import Account

from accounts import crypto, services
from accounts.models import ExchangeAccount, LinkChallenge, User
from accounts.twofactor import recovery
from standx.keys import parse_signing_key
from tests.accounts.conftest import enrol_totp
from venues.standx import endpoints_for_simulator

pytestmark = pytest.mark.django_db(transaction=True)

# pgserver ships PostgreSQL 16 client tools; pg_dump 16 also dumps older servers.
PG_DUMP = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"


def dump_database() -> str:
    s: dict[str, Any] = connection.settings_dict
    args = [
        str(PG_DUMP),
        "--data-only",
        "--no-owner",
        "-d",
        s["NAME"],
        "-U",
        s["USER"] or "postgres",
    ]
    if s["HOST"]:
        args += ["-h", s["HOST"]]
    if s["PORT"]:
        args += ["-p", str(s["PORT"])]
    env = {"PGPASSWORD": s["PASSWORD"] or ""}
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60, check=True)
    return result.stdout


def encodings(secret: bytes) -> list[str]:
    return [
        secret.decode(errors="ignore"),
        secret.hex(),
        base64.b64encode(secret).decode().rstrip("="),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
        base58.b58encode(secret).decode(),
    ]


def test_the_dump_contains_no_credential(
    alice: User, alice_linked: ExchangeAccount, alice_standx: dict[str, Any], sim_url: str
) -> None:
    # A wallet sign-in left half-way holds a temporary signing key too.
    challenge, _ = services.account_link_begin_wallet(
        owner=alice,
        chain="bsc",
        address=Account.create().address,
        endpoints=endpoints_for_simulator(sim_url),
    )
    state = json.loads(
        crypto.decrypt(challenge.state_encrypted, context=challenge.credential_context())
    )
    seeds = [
        bytes(parse_signing_key(alice_standx["signing_key"])),
        bytes(parse_signing_key(state["seed"])),
    ]
    token = alice_standx["token"].encode()
    dump = dump_database()
    assert (
        "accounts_exchangeaccount" in dump and "accounts_credential" in dump
    )  # the table is there
    assert alice_linked.address in dump  # public data is there
    assert LinkChallenge.objects.filter(pk=challenge.pk).exists()
    for secret in [token, token.split(b".")[2], *seeds]:
        for form in encodings(secret):
            if len(form) >= 16:
                assert form not in dump


def test_the_dump_holds_no_second_factor_secret_and_no_session_key(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    factor = enrol_totp(alice)
    dump = dump_database()
    assert "accounts_totpdevice" in dump and "django_session" in dump
    secret = base64.b32decode(factor.secret)
    for form in [factor.secret, *encodings(secret)]:
        if len(form) >= 16:
            assert form not in dump
    for code in factor.recovery_codes:
        assert code not in dump and recovery.normalize(code) not in dump
    assert session_key not in dump


def test_the_dump_contains_no_ocx_session_or_key(
    alice: User, bob: User, ocx_sim_url: str, ocx_wallet: dict[str, Any]
) -> None:
    from accounts.credentials import credentials_open
    from tests.conftest import ocx_linked

    trading = ocx_linked(alice, ocx_sim_url, ocx_wallet, "trading")
    monitor = ocx_linked(bob, ocx_sim_url, ocx_wallet, "monitor")
    secrets = [*credentials_open(trading).values(), *credentials_open(monitor).values()]
    assert len(secrets) == 3  # alice's session and trade key, bob's read key
    dump = dump_database()
    assert ocx_wallet["user_id"] in dump  # public data is there
    for secret in secrets:
        parts = [secret.encode(), *(p.encode() for p in secret.split(".") if len(p) >= 16)]
        for part in parts:
            for form in encodings(part):
                if len(form) >= 16:
                    assert form not in dump

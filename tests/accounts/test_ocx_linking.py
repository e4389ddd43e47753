"""Linking an OCX account, against the OCX simulator: by a wallet sign-in that mints a key
(monitor only: a read key and nothing else; trading: a trade key and the session), by pasted
keys on the generic page, and unlinking that revokes what was minted. The wallet signs here in
Python with its test key, as the browser wallet would; the server never sees that key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from accounts import minting
from accounts.credentials import credentials_open
from accounts.models import AccountMode, AccountStatus, Credential, ExchangeAccount, User
from accounts.services import LinkError
from ocx.auth import sign
from portfolio.models import AuditEntry, AuditStatus
from tests.accounts.conftest import enrol_totp
from tests.conftest import ocx_linked
from tests.ocx.conftest import sim_account
from venues import ocx as ocx_venue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def ocx_simulator_links_allowed(settings: Any) -> None:
    settings.OCX_ALLOW_CUSTOM_ENDPOINTS = True


@pytest.fixture
def wallet(ocx_wallet: dict[str, Any]) -> dict[str, Any]:
    return ocx_wallet


def begin(owner: User, url: str, wallet: dict[str, Any], mode: str) -> tuple[int, str]:
    challenge, message = minting.account_mint_begin(
        owner=owner,
        venue_key="ocx",
        address=wallet["wallet_address"],
        mode=mode,
        endpoints=ocx_venue.endpoints_for_simulator(url),
    )
    return challenge.pk, message


def complete(
    owner: User, url: str, challenge_id: int, signature: str, label: str = ""
) -> ExchangeAccount:
    return minting.account_mint_complete(
        owner=owner,
        venue_key="ocx",
        challenge_id=challenge_id,
        signature=signature,
        label=label,
        endpoints=ocx_venue.endpoints_for_simulator(url),
    )


def mint(
    owner: User, url: str, wallet: dict[str, Any], mode: str, label: str = ""
) -> ExchangeAccount:
    return ocx_linked(owner, url, wallet, mode, label)


def keys_at_ocx(url: str, wallet: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The account's keys as OCX lists them (asked with the simulator's own session)."""
    response = httpx.get(
        f"{url}/perps/me/api-keys", headers={"Authorization": f"Bearer {wallet['session']}"}
    )
    response.raise_for_status()
    return {k["id"]: k for k in response.json()}


def key_works(url: str, secret: str) -> bool:
    return httpx.get(f"{url}/perps/positions", headers={"x-api-key": secret}).status_code == 200


def test_a_monitor_only_link_stores_one_read_key_and_nothing_else(
    alice: User, ocx_sim_url: str, wallet: dict[str, Any]
) -> None:
    account = mint(alice, ocx_sim_url, wallet, "monitor", "Watch")
    assert (account.venue, account.identity, account.label) == ("ocx", wallet["user_id"], "Watch")
    assert account.mode == AccountMode.READ_ONLY
    (row,) = Credential.objects.filter(account=account)
    assert (row.kind, row.scopes, row.meta) == ("ocx_api_key_read", ["read"], {"minted": True})
    secret = credentials_open(account)["ocx_api_key_read"]
    assert secret not in row.secret_encrypted
    minted = keys_at_ocx(ocx_sim_url, wallet)[row.public_id]
    assert (minted["scope"], minted["status"]) == ("read", "active")
    assert row.expires_at is not None
    assert timedelta(days=89) < row.expires_at - timezone.now() <= timedelta(days=90)
    assert key_works(ocx_sim_url, secret)
    entry = AuditEntry.objects.get(action="mint_key")
    assert (entry.account_id, entry.status) == (account.pk, AuditStatus.DONE)
    assert row.public_id in entry.result and "session was ended" in entry.result


def test_a_trading_link_keeps_a_trade_key_and_the_session_which_expires_first(
    alice: User, ocx_sim_url: str, wallet: dict[str, Any]
) -> None:
    account = mint(alice, ocx_sim_url, wallet, "trading")
    assert account.mode == AccountMode.TRADING
    assert account.label.startswith("OCX 0x")
    rows = {r.kind: r for r in Credential.objects.filter(account=account)}
    assert set(rows) == {"ocx_api_key_trade", "ocx_session"}
    assert rows["ocx_api_key_trade"].meta == {"minted": True}
    assert rows["ocx_session"].meta == {}  # the session is not a key: nothing to revoke
    session_expiry = rows["ocx_session"].expires_at
    assert session_expiry is not None
    assert account.credential_expires_at == session_expiry  # the expiry alert's date
    key_expiry = rows["ocx_api_key_trade"].expires_at
    assert key_expiry is not None and key_expiry > session_expiry
    secrets = credentials_open(account)
    assert all(secrets[kind] not in row.secret_encrypted for kind, row in rows.items())
    listed = keys_at_ocx(ocx_sim_url, wallet)[rows["ocx_api_key_trade"].public_id]
    assert listed["scope"] == "trade"


def test_trading_is_refused_in_words_without_a_second_factor_where_required(
    alice: User, ocx_sim_url: str, wallet: dict[str, Any], settings: Any
) -> None:
    settings.REQUIRE_SECOND_FACTOR_FOR_TRADING = True
    with pytest.raises(LinkError, match="second factor"):
        mint(alice, ocx_sim_url, wallet, "trading")
    assert mint(alice, ocx_sim_url, wallet, "monitor").mode == AccountMode.READ_ONLY
    enrol_totp(alice)
    assert minting.account_unlink_revoking(owner=alice, account=ExchangeAccount.objects.get())
    assert mint(alice, ocx_sim_url, wallet, "trading").mode == AccountMode.TRADING


def test_a_signature_of_another_wallet_is_refused_in_words_and_mints_nothing(
    alice: User, ocx_sim_url: str, wallet: dict[str, Any]
) -> None:
    other = sim_account(ocx_sim_url)
    before = set(keys_at_ocx(ocx_sim_url, wallet))
    challenge_id, message = begin(alice, ocx_sim_url, wallet, "monitor")
    with pytest.raises(LinkError, match="another wallet"):
        complete(alice, ocx_sim_url, challenge_id, sign(other["wallet_private_key"], message))
    with pytest.raises(LinkError, match="unknown or was already used"):
        complete(alice, ocx_sim_url, challenge_id, sign(wallet["wallet_private_key"], message))
    assert not ExchangeAccount.objects.exists() and not AuditEntry.objects.exists()
    assert set(keys_at_ocx(ocx_sim_url, wallet)) == before


def test_a_challenge_is_for_its_owner_only(
    alice: User, bob: User, ocx_sim_url: str, wallet: dict[str, Any]
) -> None:
    challenge_id, message = begin(alice, ocx_sim_url, wallet, "monitor")
    with pytest.raises(LinkError, match="unknown or was already used"):
        complete(bob, ocx_sim_url, challenge_id, sign(wallet["wallet_private_key"], message))


@pytest.mark.parametrize(
    ("address", "mode", "words"),
    [
        ("0x123", "monitor", "not an EVM wallet address"),
        ("0x" + "ab" * 20, "withdraw", "Choose how to link the account: monitor only or trading."),
    ],
)
def test_bad_input_to_the_sign_in_gets_a_sentence(
    alice: User, ocx_sim_url: str, address: str, mode: str, words: str
) -> None:
    with pytest.raises(LinkError, match=words):
        begin(alice, ocx_sim_url, {"wallet_address": address}, mode)


def test_signing_in_again_renews_the_link_and_revokes_the_key_it_replaces(
    alice: User, ocx_sim_url: str, wallet: dict[str, Any]
) -> None:
    first = mint(alice, ocx_sim_url, wallet, "monitor", "First")
    old_key = Credential.objects.get(account=first).public_id
    again = mint(alice, ocx_sim_url, wallet, "trading")
    assert again.pk == first.pk and again.mode == AccountMode.TRADING
    new_key = Credential.objects.get(account=again, kind="ocx_api_key_trade").public_id
    keys = keys_at_ocx(ocx_sim_url, wallet)
    assert (keys[old_key]["status"], keys[new_key]["status"]) == ("revoked", "active")
    assert not Credential.objects.filter(account=again, kind="ocx_api_key_read").exists()
    assert ExchangeAccount.objects.count() == 1


def test_unlinking_a_trading_link_revokes_its_key_with_the_kept_session(
    alice: User, ocx_sim_url: str, wallet: dict[str, Any]
) -> None:
    account = mint(alice, ocx_sim_url, wallet, "trading", "Main")
    key_id = Credential.objects.get(account=account, kind="ocx_api_key_trade").public_id
    secret = credentials_open(account)["ocx_api_key_trade"]
    words = minting.account_unlink_revoking(owner=alice, account=account)
    assert words == f"OCX revoked key {key_id}, and our copy is deleted."
    assert keys_at_ocx(ocx_sim_url, wallet)[key_id]["status"] == "revoked"
    assert not key_works(ocx_sim_url, secret)
    assert not ExchangeAccount.objects.exists() and not Credential.objects.exists()
    revoke = AuditEntry.objects.get(action="revoke_key")
    assert (revoke.status, revoke.body, revoke.account_label) == (
        AuditStatus.DONE,
        {"key_ids": [key_id]},
        "Main",
    )


def test_unlinking_without_a_session_names_the_key_left_and_when_it_lapses(
    alice: User, ocx_sim_url: str, wallet: dict[str, Any]
) -> None:
    account = mint(alice, ocx_sim_url, wallet, "monitor")
    row = Credential.objects.get(account=account)
    words = minting.account_unlink_revoking(owner=alice, account=account)
    assert f"OCX did not revoke key {row.public_id}" in words
    assert f"lapses on {row.expires_at:%Y-%m-%d}" in words
    assert "API keys page" in words
    assert not ExchangeAccount.objects.exists()
    assert AuditEntry.objects.get(action="revoke_key").status == AuditStatus.REJECTED


def test_unlinking_pasted_keys_revokes_nothing(
    alice: User, ocx_sim_url: str, wallet: dict[str, Any], alice_client: Client
) -> None:
    response = alice_client.post(
        "/accounts/links/new/ocx/",
        {
            "label": "Pasted",
            "read_key": wallet["read_api_key"],
            "read_key_id": wallet["read_api_key_id"],
            "exchange_url": ocx_sim_url,
        },
        follow=True,
    )
    assert "Linked “Pasted” on OCX (read-only)." in response.content.decode()
    account = ExchangeAccount.objects.get()
    assert minting.account_unlink_revoking(owner=alice, account=account) == (
        "its credentials are deleted."
    )
    assert key_works(ocx_sim_url, wallet["read_api_key"])  # the trader's own key stays theirs
    assert not AuditEntry.objects.filter(action="revoke_key").exists()


def test_the_page_offers_both_modes_and_links_through_its_json_steps(
    alice_client: Client, ocx_sim_url: str, wallet: dict[str, Any]
) -> None:
    html = alice_client.get("/accounts/links/new/ocx/").content.decode()
    assert 'id="mint-card"' in html and 'name="read_key"' in html
    assert 'value="monitor"' in html and 'value="trading"' in html
    assert "could also move funds between buckets or withdraw" in html
    begun = alice_client.post(
        "/accounts/links/new/ocx/wallet/begin/",
        {"address": wallet["wallet_address"], "mode": "trading", "exchange_url": ocx_sim_url},
    ).json()
    done = alice_client.post(
        "/accounts/links/new/ocx/wallet/complete/",
        {
            "challenge_id": begun["challenge_id"],
            "signature": sign(wallet["wallet_private_key"], begun["message"]),
            "label": "Browser",
            "exchange_url": ocx_sim_url,
        },
    )
    assert done.json() == {"redirect": "/accounts/links/"}
    assert ExchangeAccount.objects.get().mode == AccountMode.TRADING
    refused = alice_client.post(
        "/accounts/links/new/ocx/wallet/begin/",
        {"address": "nonsense", "mode": "monitor", "exchange_url": ocx_sim_url},
    )
    assert refused.status_code == 400 and "not an EVM wallet address" in refused.json()["error"]


def test_venues_without_a_minting_sign_in_have_no_such_steps(alice_client: Client) -> None:
    assert alice_client.post("/accounts/links/new/perpex/wallet/begin/").status_code == 404
    assert alice_client.post("/accounts/links/new/standx/wallet/begin/").status_code == 404
    assert 'id="mint-card"' not in alice_client.get("/accounts/links/new/perpex/").content.decode()


def test_a_re_link_after_the_link_died_revokes_the_keys_the_dead_link_minted(
    alice: User, ocx_sim_url: str, wallet: dict[str, Any]
) -> None:
    account = mint(alice, ocx_sim_url, wallet, "monitor")
    old_key = Credential.objects.get(account=account).public_id
    ExchangeAccount.objects.filter(pk=account.pk).update(status=AccountStatus.NEEDS_RELINK)
    again = mint(alice, ocx_sim_url, wallet, "trading")
    assert again.pk == account.pk and again.status == AccountStatus.VERIFIED
    keys = keys_at_ocx(ocx_sim_url, wallet)
    assert keys[old_key]["status"] == "revoked"
    new_key = Credential.objects.get(account=again, kind="ocx_api_key_trade").public_id
    assert keys[new_key]["status"] == "active"
    assert not Credential.objects.filter(account=again, kind="ocx_api_key_read").exists()

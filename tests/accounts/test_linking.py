"""Linking services against the simulator: import, wallet sign-in, lifecycle, rotation."""

from __future__ import annotations

import base64
import os
from typing import Any

import base58
import httpx
import nacl.signing
import pytest
from django.test import Client, override_settings
from django.urls import reverse
from eth_account import Account

from accounts import services
from accounts.models import AccountMode, AccountStatus, ExchangeAccount, LinkChallenge, User
from portfolio.models import AuditEntry
from standx.auth import evm_sign
from tests.conftest import sim_credentials
from tests.factories import stored_secret
from tests.standx_access import client_for, credentials_for
from venues.base import Endpoints
from venues.standx import endpoints_for_simulator

pytestmark = pytest.mark.django_db


def test_an_imported_token_and_key_link_in_trading_mode(
    alice_linked: ExchangeAccount, alice_standx: dict[str, Any]
) -> None:
    account = alice_linked
    assert account.mode == AccountMode.TRADING
    assert account.status == AccountStatus.VERIFIED
    assert account.identity == alice_standx["address"]
    assert account.chain == "bsc"
    assert account.signing_public_key == alice_standx["public_key"]
    assert account.days_left in (6, 7)
    # Stored encrypted: neither secret appears in the row.
    assert alice_standx["token"] not in stored_secret(account)
    assert alice_standx["signing_key"] not in stored_secret(account, "standx_signing_key")
    assert sorted(account.credentials.values_list("kind", "scopes")) == [
        ("standx_signing_key", ["trade"]),
        ("standx_token", ["read"]),
    ]
    creds = credentials_for(account)
    assert creds.token == alice_standx["token"]
    with client_for(account) as client:
        assert client.query_balance().equity == 10000


def test_the_signed_key_check_made_while_linking_is_in_activity(
    alice: User, alice_linked: ExchangeAccount
) -> None:
    [entry] = AuditEntry.objects.filter(user=alice)
    assert (entry.action, entry.status) == ("link_key_check", "done")
    assert entry.endpoint == "/api/cancel_order"
    assert entry.account == alice_linked
    assert entry.body["cl_ord_id"].startswith("standx-portfolio-key-check-")
    assert entry.finished_at is not None
    client = Client()
    client.force_login(alice)
    page = client.get(reverse("portfolio:activity")).content.decode()
    assert "link_key_check" in page and "Signature accepted" in page


def test_a_token_without_a_key_links_read_only(
    alice: User, sim_url: str, sim_endpoints: Endpoints
) -> None:
    standx = sim_credentials(sim_url)
    account = services.account_link_with_token(
        owner=alice, label="", token=standx["token"], signing_key=None, endpoints=sim_endpoints
    )
    assert account.mode == AccountMode.READ_ONLY
    assert not account.can_trade
    assert stored_secret(account, "standx_signing_key") == ""
    assert account.label.startswith("StandX ")
    assert not AuditEntry.objects.exists()  # nothing was signed


def test_a_key_that_does_not_belong_to_the_token_is_refused_in_plain_words(
    alice: User, sim_url: str, sim_endpoints: Endpoints
) -> None:
    standx = sim_credentials(sim_url)
    other = base58.b58encode(bytes(nacl.signing.SigningKey.generate())).decode()
    with pytest.raises(services.LinkError, match="does not belong to this token"):
        services.account_link_with_token(
            owner=alice,
            label="x",
            token=standx["token"],
            signing_key=other,
            endpoints=sim_endpoints,
        )
    assert not ExchangeAccount.objects.exists()


def test_an_expired_token_is_refused(alice: User, sim_url: str, sim_endpoints: Endpoints) -> None:
    standx = sim_credentials(sim_url)
    expired = httpx.post(
        f"{sim_url}/sim/token", json={"address": standx["address"], "expires_seconds": -60}
    ).json()
    with pytest.raises(services.LinkError, match="expired"):
        services.account_link_with_token(
            owner=alice,
            label="x",
            token=expired["token"],
            signing_key=None,
            endpoints=sim_endpoints,
        )


def test_garbage_is_refused_without_echoing_it(alice: User, sim_endpoints: Endpoints) -> None:
    with pytest.raises(services.LinkError) as info:
        services.account_link_with_token(
            owner=alice,
            label="x",
            token="eyJhbGciOi.not-a-token.x",
            signing_key=None,
            endpoints=sim_endpoints,
        )
    assert "not-a-token" not in str(info.value)


def test_relinking_the_same_wallet_replaces_its_credentials(
    alice: User,
    alice_linked: ExchangeAccount,
    alice_standx: dict[str, Any],
    sim_url: str,
    sim_endpoints: Endpoints,
) -> None:
    fresh = sim_credentials(sim_url, address=alice_standx["address"], deposit="0")
    again = services.account_link_with_token(
        owner=alice,
        label="Main",
        token=fresh["token"],
        signing_key=fresh["signing_key"],
        endpoints=sim_endpoints,
    )
    assert again.pk == alice_linked.pk
    assert credentials_for(again).token == fresh["token"]


def test_a_wallet_linked_by_token_is_refused_a_second_link_by_wallet_sign_in(
    alice: User, sim_url: str, sim_endpoints: Endpoints
) -> None:
    wallet = Account.create()
    # The token names the wallet in lower case; the sign-in names it checksummed (EIP-55).
    standx = sim_credentials(sim_url, address=wallet.address.lower())
    services.account_link_with_token(
        owner=alice,
        label="Main",
        token=standx["token"],
        signing_key=None,
        endpoints=sim_endpoints,
    )
    with pytest.raises(services.LinkError, match=r"linked this wallet .* already, as “Main”"):
        services.account_link_begin_wallet(
            owner=alice, chain="bsc", address=wallet.address, endpoints=sim_endpoints
        )
    assert ExchangeAccount.objects.filter(owner=alice).count() == 1
    assert not LinkChallenge.objects.exists()  # refused before the wallet was asked to sign


def test_the_same_wallet_under_another_chain_name_is_still_one_account(
    alice: User,
    alice_linked: ExchangeAccount,
    alice_standx: dict[str, Any],
    sim_endpoints: Endpoints,
) -> None:
    # An account is its venue, identity and exchange origin: the chain's name cannot make a
    # second row that would count the same money twice.
    again = services.account_link_with_token(
        owner=alice,
        label="Again",
        token=alice_standx["token"],
        signing_key=alice_standx["signing_key"],
        endpoints=sim_endpoints,
        chain="solana",
    )
    assert again.pk == alice_linked.pk
    assert list(ExchangeAccount.objects.filter(owner=alice)) == [again]


def test_the_same_wallet_on_another_exchange_origin_is_a_link_of_its_own(
    alice: User, alice_linked: ExchangeAccount, alice_standx: dict[str, Any], sim_url: str
) -> None:
    # Another origin is another exchange (the simulator answers on localhost too).
    elsewhere = endpoints_for_simulator(sim_url.replace("127.0.0.1", "localhost"))
    again = services.account_link_with_token(
        owner=alice,
        label="Elsewhere",
        token=alice_standx["token"],
        signing_key=None,
        endpoints=elsewhere,
    )
    assert again.pk != alice_linked.pk


ORIGINS = [
    ("HTTPS://Perps.StandX.com:443/api", "https://perps.standx.com"),
    ("http://127.0.0.1:8100", "http://127.0.0.1:8100"),
    ("http://localhost:80/", "http://localhost"),
    ("http://[::1]:8100/x", "http://[::1]:8100"),
]


@pytest.mark.parametrize(("url", "origin"), ORIGINS)
def test_an_origin_is_scheme_host_and_port_as_a_browser_compares_them(
    url: str, origin: str
) -> None:
    assert services.origin_of(url) == origin


def test_an_evm_wallet_sign_in_links_with_the_servers_temporary_key(
    alice: User, sim_url: str, sim_endpoints: Endpoints
) -> None:
    wallet = Account.create()
    challenge, message = services.account_link_begin_wallet(
        owner=alice, chain="bsc", address=wallet.address.lower(), endpoints=sim_endpoints
    )
    assert message.startswith("standx.com wants you to sign in")
    # The temporary key is stored encrypted, bound to the challenge row.
    assert challenge.state_encrypted.startswith("v1.")
    account = services.account_link_complete_wallet(
        owner=alice,
        challenge_id=challenge.pk,
        signature=evm_sign(wallet.key.hex(), message),
        label="Wallet",
        endpoints=sim_endpoints,
    )
    assert account.address.lower() == wallet.address.lower()
    assert account.mode == AccountMode.TRADING
    assert not LinkChallenge.objects.exists()  # single use
    with client_for(account) as client:
        # An unfunded wallet: 404 from StandX, a zero balance for us; and signing works.
        assert client.query_balance().funded is False
        client.change_leverage(symbol="BTC-USD", leverage=5)


def test_a_solana_wallet_sign_in_links(alice: User, sim_endpoints: Endpoints) -> None:
    wallet = nacl.signing.SigningKey.generate()
    address = base58.b58encode(bytes(wallet.verify_key)).decode()
    challenge, message = services.account_link_begin_wallet(
        owner=alice, chain="solana", address=address, endpoints=sim_endpoints
    )
    signature = base64.b64encode(wallet.sign(message.encode()).signature).decode()
    account = services.account_link_complete_wallet(
        owner=alice,
        challenge_id=challenge.pk,
        signature=signature,
        label="",
        endpoints=sim_endpoints,
    )
    assert account.chain == "solana"
    assert account.address == address


def test_a_challenge_is_single_use_and_only_for_its_owner(
    alice: User, bob: User, sim_endpoints: Endpoints
) -> None:
    wallet = Account.create()
    challenge, message = services.account_link_begin_wallet(
        owner=alice, chain="bsc", address=wallet.address, endpoints=sim_endpoints
    )
    signature = evm_sign(wallet.key.hex(), message)
    with pytest.raises(services.LinkError, match="unknown"):
        services.account_link_complete_wallet(
            owner=bob,
            challenge_id=challenge.pk,
            signature=signature,
            label="",
            endpoints=sim_endpoints,
        )
    services.account_link_complete_wallet(
        owner=alice,
        challenge_id=challenge.pk,
        signature=signature,
        label="",
        endpoints=sim_endpoints,
    )
    with pytest.raises(services.LinkError, match="already used"):
        services.account_link_complete_wallet(
            owner=alice,
            challenge_id=challenge.pk,
            signature=signature,
            label="",
            endpoints=sim_endpoints,
        )


def test_a_wrong_wallet_signature_is_refused(alice: User, sim_endpoints: Endpoints) -> None:
    wallet, other = Account.create(), Account.create()
    challenge, message = services.account_link_begin_wallet(
        owner=alice, chain="bsc", address=wallet.address, endpoints=sim_endpoints
    )
    with pytest.raises(services.LinkError, match="another wallet"):
        services.account_link_complete_wallet(
            owner=alice,
            challenge_id=challenge.pk,
            signature=evm_sign(other.key.hex(), message),
            label="",
            endpoints=sim_endpoints,
        )
    assert not ExchangeAccount.objects.exists()


def test_a_401_marks_the_account_for_relinking_and_stops_its_polling(
    alice_linked: ExchangeAccount,
) -> None:
    services.account_mark_needs_relink(account_id=alice_linked.pk, reason="HTTP 401: expired")
    alice_linked.refresh_from_db()
    assert alice_linked.status == AccountStatus.NEEDS_RELINK
    assert alice_linked.sync_enabled is False
    assert not alice_linked.can_trade


def test_unlink_deletes_the_credentials_at_once(alice_linked: ExchangeAccount) -> None:
    services.account_unlink(account=alice_linked)
    assert not ExchangeAccount.objects.filter(pk=alice_linked.pk).exists()


def test_deleting_credentials_keeps_the_row_but_nothing_secret(
    alice_linked: ExchangeAccount,
) -> None:
    services.account_delete_credentials(account=alice_linked)
    alice_linked.refresh_from_db()
    assert not alice_linked.credentials.exists()
    assert alice_linked.sync_enabled is False


def test_rotation_re_encrypts_everything_under_the_newest_key(
    alice_linked: ExchangeAccount, alice_standx: dict[str, Any], settings: Any
) -> None:
    old = list(settings.CREDENTIAL_KEYS)
    new = base64.b64encode(os.urandom(32)).decode()
    with override_settings(CREDENTIAL_KEYS=[new, *old]):
        counts = services.rotate_credential_keys()
        assert (counts["credentials"], counts["rotated"]) == (2, 2)  # the token and the key
        assert services.rotate_credential_keys()["already_current"] == 2
    # The old key can now be dropped.
    with override_settings(CREDENTIAL_KEYS=[new]):
        alice_linked.refresh_from_db()
        assert credentials_for(alice_linked).token == alice_standx["token"]


def test_linking_logs_no_secret(
    alice: User, sim_url: str, sim_endpoints: Endpoints, caplog: pytest.LogCaptureFixture
) -> None:
    standx = sim_credentials(sim_url)
    wrong = base58.b58encode(bytes(nacl.signing.SigningKey.generate())).decode()
    for name in ("", "httpx", "httpcore", "django", "accounts", "standx"):
        caplog.set_level("DEBUG", logger=name)
    with pytest.raises(services.LinkError):
        services.account_link_with_token(
            owner=alice,
            label="x",
            token=standx["token"],
            signing_key=wrong,
            endpoints=sim_endpoints,
        )
    services.account_link_with_token(
        owner=alice,
        label="x",
        token=standx["token"],
        signing_key=standx["signing_key"],
        endpoints=sim_endpoints,
    )
    logged = caplog.text
    assert "query_balance" in logged  # the client did log its requests...
    for secret in (standx["token"], standx["signing_key"], wrong):
        assert secret not in logged  # ...but never a secret

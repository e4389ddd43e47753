"""The linking pages, ownership on every URL (alice and bob), and nothing secret in HTML."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.test import Client
from eth_account import Account

from accounts.models import ExchangeAccount, User
from standx.auth import evm_sign
from tests.conftest import sim_credentials

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob: User) -> Client:
    client = Client()
    client.force_login(bob)
    return client


OWNED_POSTS = ["/accounts/links/{pk}/unlink/", "/accounts/links/{pk}/sync/"]
PAGES = ["/accounts/links/", "/accounts/links/new/"]
POSTS = [
    "/accounts/links/new/import/",
    "/accounts/links/wallet/begin/",
    "/accounts/links/wallet/complete/",
]


@pytest.mark.parametrize("url", PAGES + POSTS + OWNED_POSTS)
def test_every_linking_url_requires_a_login(client: Client, url: str) -> None:
    response = client.post(url.format(pk=1)) if url not in PAGES else client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", OWNED_POSTS)
def test_bob_cannot_touch_alices_account(
    bob_client: Client, alice_linked: ExchangeAccount, url: str
) -> None:
    response = bob_client.post(url.format(pk=alice_linked.pk), {"enabled": "0"})
    assert response.status_code == 404
    alice_linked.refresh_from_db()
    assert alice_linked.sync_enabled is True


def test_bob_does_not_see_alices_account_in_his_list(
    bob_client: Client, alice_linked: ExchangeAccount
) -> None:
    html = bob_client.get("/accounts/links/").content.decode()
    assert alice_linked.address not in html
    assert "No account linked yet" in html


def test_alice_sees_her_account_with_days_left_and_no_secret(
    alice_client: Client, alice_linked: ExchangeAccount, alice_standx: dict[str, Any]
) -> None:
    html = alice_client.get("/accounts/links/").content.decode()
    assert "Main" in html
    assert "days left" in html
    assert alice_standx["token"] not in html
    assert alice_standx["signing_key"] not in html


def test_import_through_the_form_links_and_says_so(alice_client: Client, sim_url: str) -> None:
    standx = sim_credentials(sim_url)
    response = alice_client.post(
        "/accounts/links/new/import/",
        {
            "label": "Bot",
            "token": standx["token"],
            "signing_key": standx["signing_key"],
            "exchange_url": sim_url,
        },
        follow=True,
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == "/accounts/links/"
    assert "Linked “Bot” (trading)" in html
    assert standx["public_key"] in html
    assert standx["token"] not in html
    assert ExchangeAccount.objects.get().label == "Bot"


def test_a_bad_import_shows_field_errors_and_does_not_echo_secrets(
    alice_client: Client, sim_url: str
) -> None:
    standx = sim_credentials(sim_url)
    response = alice_client.post(
        "/accounts/links/new/import/",
        {
            "label": "Bot",
            "token": standx["token"],
            "signing_key": "nonsense-key",
            "exchange_url": sim_url,
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "not base58, hex or base64" in html
    assert standx["token"] not in html
    assert "nonsense-key" not in html
    assert not ExchangeAccount.objects.exists()


@pytest.mark.parametrize("exp", ["1e20", "-1e20", "1e30", "-1e30", str(2**63), "Infinity", "NaN"])
def test_a_token_whose_expiry_names_no_moment_gets_a_sentence_not_a_server_error(
    alice_client: Client, sim_url: str, exp: str
) -> None:
    header = base64.urlsafe_b64encode(b'{"alg": "HS256", "typ": "JWT"}').rstrip(b"=").decode()
    claims = f'{{"sub": "bsc_0x{"ab" * 20}", "exp": {exp}}}'.encode()
    token = f"{header}.{base64.urlsafe_b64encode(claims).rstrip(b'=').decode()}.c2ln"
    response = alice_client.post(
        "/accounts/links/new/import/", {"token": token, "exchange_url": sim_url}
    )
    assert response.status_code == 400
    assert "its exp claim) is not a time" in response.content.decode()
    assert not ExchangeAccount.objects.exists()


def test_a_mismatched_key_is_explained(alice_client: Client, sim_url: str) -> None:
    standx, other = sim_credentials(sim_url), sim_credentials(sim_url)
    response = alice_client.post(
        "/accounts/links/new/import/",
        {"token": standx["token"], "signing_key": other["signing_key"], "exchange_url": sim_url},
    )
    assert response.status_code == 400
    assert "does not belong to this token" in response.content.decode()


def test_custom_exchange_urls_are_refused_unless_allowed(
    alice_client: Client, sim_url: str, settings: Any
) -> None:
    settings.STANDX_ALLOW_CUSTOM_ENDPOINTS = False
    response = alice_client.post(
        "/accounts/links/wallet/begin/",
        {"chain": "bsc", "address": Account.create().address, "exchange_url": sim_url},
    )
    assert response.status_code == 400
    assert "only links accounts on StandX" in response.json()["error"]


def test_the_wallet_endpoints_link_an_evm_wallet(alice_client: Client, sim_url: str) -> None:
    wallet = Account.create()
    begun = alice_client.post(
        "/accounts/links/wallet/begin/",
        {"chain": "bsc", "address": wallet.address, "exchange_url": sim_url},
    ).json()
    done = alice_client.post(
        "/accounts/links/wallet/complete/",
        {
            "challenge_id": begun["challenge_id"],
            "label": "MetaMask",
            "exchange_url": sim_url,
            "signature": evm_sign(wallet.key.hex(), begun["message"]),
        },
    )
    assert done.status_code == 200
    assert done.json() == {"redirect": "/accounts/links/"}
    assert ExchangeAccount.objects.get().label == "MetaMask"


def test_a_second_link_of_one_wallet_is_refused_in_words_on_the_link_form(
    alice_client: Client, sim_url: str
) -> None:
    wallet = Account.create()
    # The exchange's token names the wallet in lower case ...
    pasted = sim_credentials(sim_url, address=wallet.address.lower())
    # ... and alice linked it before by wallet sign-in, which names it checksummed.
    begun = alice_client.post(
        "/accounts/links/wallet/begin/",
        {"chain": "bsc", "address": wallet.address, "exchange_url": sim_url},
    ).json()
    signature = evm_sign(wallet.key.hex(), begun["message"])
    alice_client.post(
        "/accounts/links/wallet/complete/",
        {"challenge_id": begun["challenge_id"], "signature": signature, "exchange_url": sim_url},
    )
    [linked] = ExchangeAccount.objects.all()
    response = alice_client.post(
        "/accounts/links/new/import/",
        {"token": pasted["token"], "signing_key": pasted["signing_key"], "exchange_url": sim_url},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert f"You have linked this wallet ({linked.short_address}) on {sim_url} already" in html
    assert "count its money twice" in html
    assert list(ExchangeAccount.objects.all()) == [linked]


def test_wallet_endpoints_answer_errors_as_json(alice_client: Client, sim_url: str) -> None:
    response = alice_client.post(
        "/accounts/links/wallet/begin/",
        {"chain": "bsc", "address": "0x123", "exchange_url": sim_url},
    )
    assert response.status_code == 400
    assert "not an EVM wallet address" in response.json()["error"]


def test_unlink_and_pause_work_for_the_owner(
    alice_client: Client, alice_linked: ExchangeAccount
) -> None:
    alice_client.post(f"/accounts/links/{alice_linked.pk}/sync/", {"enabled": "0"})
    alice_linked.refresh_from_db()
    assert alice_linked.sync_enabled is False
    alice_client.post(f"/accounts/links/{alice_linked.pk}/unlink/")
    assert not ExchangeAccount.objects.exists()


def test_linking_posts_need_csrf(alice: User, alice_linked: ExchangeAccount) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(f"/accounts/links/{alice_linked.pk}/unlink/").status_code == 403


def test_the_accounts_page_counts_the_trades_an_account_made_after_its_backfill(
    alice_client: Client, alice_linked: ExchangeAccount
) -> None:
    from exchange_common.ratelimit import NoRateLimit
    from portfolio.sync import pipeline as sync
    from tests.portfolio.sync.test_pipeline import place_some_orders, trader

    sync.account_sync(alice_linked.pk, limiter=NoRateLimit())  # the backfill: nothing yet
    with trader(alice_linked) as client:
        place_some_orders(client)  # two market fills and a resting order
    sync.account_sync(alice_linked.pk, limiter=NoRateLimit())
    html = alice_client.get("/accounts/links/").content.decode()
    assert "2 trades, 3 orders stored" in html


def test_the_accounts_page_shows_sync_progress_and_staleness(
    alice_client: Client, alice_linked: ExchangeAccount
) -> None:
    from django.utils import timezone

    from portfolio.models import SyncState

    html = alice_client.get("/accounts/links/").content.decode()
    assert "first sync (backfill) pending" in html
    SyncState.objects.create(
        account=alice_linked,
        next_due_at=timezone.now(),
        last_success_at=timezone.now(),
        backfill_trades=12,
        backfill_orders=5,
        stale=True,
        last_error="ServerError: HTTP 500",
    )
    html = alice_client.get("/accounts/links/").content.decode()
    assert "0 trades, 0 orders stored" in html
    assert "stale: ServerError: HTTP 500" in html

"""Linking a PerpEx account by pasting its API key: the service and the page, against the
PerpEx simulator. Bad input gets a sentence and stores nothing."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
from django.test import Client

from accounts import linking
from accounts.credentials import credentials_open
from accounts.models import AccountMode, AccountStatus, Credential, ExchangeAccount, User
from accounts.services import LinkError
from portfolio.models import AuditEntry, AuditStatus
from tests.accounts.conftest import enrol_totp
from tests.conftest import perpex_credentials
from venues import perpex as perpex_venue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def perpex_simulator_links_allowed(settings: Any) -> None:
    settings.PERPEX_ALLOW_CUSTOM_ENDPOINTS = True


def link(owner: User, url: str, key: str, label: str = "") -> ExchangeAccount:
    endpoints = perpex_venue.endpoints_for_simulator(url)
    return linking.account_link_pasted(owner, "perpex", endpoints, {"api_key": key}, label)


def nothing_stored() -> bool:
    return not ExchangeAccount.objects.exists() and not Credential.objects.exists()


def test_a_trading_key_links_a_trading_account_with_its_key_sealed(
    alice: User, perpex_sim_url: str
) -> None:
    creds = perpex_credentials(perpex_sim_url)
    account = link(alice, perpex_sim_url, creds["api_key"], "  Perp\tmain\x00 ")
    assert (account.venue, account.identity, account.label) == (
        "perpex",
        creds["account_id"],
        "Perp main",
    )
    assert account.mode == AccountMode.TRADING
    assert account.status == AccountStatus.VERIFIED
    assert account.origin == perpex_sim_url
    assert account.endpoints == {"api": perpex_sim_url, "ws": "ws" + perpex_sim_url[4:] + "/ws"}
    assert account.credential_expires_at is not None
    row = Credential.objects.get(account=account)
    assert (row.kind, row.scopes) == ("perpex_bearer", ["read", "trade"])
    assert creds["api_key"] not in row.secret_encrypted
    assert credentials_open(account) == {"perpex_bearer": creds["api_key"]}
    check = AuditEntry.objects.get(action="link_key_check")
    assert (check.account_id, check.status) == (account.pk, AuditStatus.DONE)
    assert "may trade" in check.result


def test_a_read_only_key_links_read_only_and_without_a_label_gets_one(
    alice: User, perpex_sim_url: str
) -> None:
    creds = perpex_credentials(perpex_sim_url, permissions=["read"], expires_in=None)
    account = link(alice, perpex_sim_url, creds["api_key"])
    assert account.mode == AccountMode.READ_ONLY
    assert account.label == f"PerpEx {creds['account_id'][:12]}"
    assert account.credential_expires_at is None
    assert Credential.objects.get(account=account).scopes == ["read"]


def test_an_expired_key_is_refused_in_words(alice: User, perpex_sim_url: str) -> None:
    creds = perpex_credentials(perpex_sim_url, expires_in=-3600)
    with pytest.raises(LinkError, match=r"PerpEx says this API key expired on .* new key"):
        link(alice, perpex_sim_url, creds["api_key"])
    assert nothing_stored()
    assert not AuditEntry.objects.exists()  # nothing was sent that could trade


@pytest.mark.parametrize(
    "garbage", ["", "   ", "not a key", "a.b.c", "eyJhbGciOi.eyJzdWIi.sig", "\x00" * 3, "x" * 9000]
)
def test_a_malformed_key_is_refused_in_words(
    alice: User, perpex_sim_url: str, garbage: str
) -> None:
    with pytest.raises(LinkError) as refused:
        link(alice, perpex_sim_url, garbage)
    assert str(refused.value).endswith(".")
    assert "PerpEx API key" in str(refused.value) or "Paste the API key" in str(refused.value)
    assert nothing_stored()


def test_a_key_of_another_host_is_refused_in_words(alice: User, perpex_sim_url: str) -> None:
    foreign = jwt.encode(
        {"sub": "acct-elsewhere", "perms": ["read", "trade"]},
        "the-signing-secret-of-another-perpex-host",
        algorithm="HS256",
    )
    with pytest.raises(LinkError, match=f"PerpEx at {perpex_sim_url} did not accept this key"):
        link(alice, perpex_sim_url, foreign)
    assert nothing_stored()


def test_a_key_pasted_for_a_host_that_is_not_perpex_is_refused_in_words(
    alice: User, perpex_sim_url: str, sim_url: str
) -> None:
    creds = perpex_credentials(perpex_sim_url)
    with pytest.raises(LinkError, match=r"does not answer like PerpEx|did not answer like PerpEx"):
        link(alice, sim_url, creds["api_key"])  # the StandX simulator
    assert nothing_stored()


def test_the_same_account_on_the_same_host_is_linked_once_and_a_new_key_renews_it(
    alice: User, bob: User, perpex_sim_url: str
) -> None:
    creds = perpex_credentials(perpex_sim_url)
    first = link(alice, perpex_sim_url, creds["api_key"], "First")
    rotated = httpx.post(
        f"{perpex_sim_url}/sim/keys", json={"account": creds["account_id"]}, timeout=10
    ).json()
    renewed = link(alice, perpex_sim_url, rotated["api_key"], "")
    assert (renewed.pk, renewed.label) == (first.pk, "First")
    assert credentials_open(renewed) == {"perpex_bearer": rotated["api_key"]}
    assert ExchangeAccount.objects.filter(owner=alice).count() == 1
    # Another user may link it too; a re-link of an account that needs one replaces its key.
    assert link(bob, perpex_sim_url, creds["api_key"]).owner == bob
    ExchangeAccount.objects.filter(pk=first.pk).update(status=AccountStatus.NEEDS_RELINK)
    fresh = perpex_credentials(perpex_sim_url)
    httpx.post(
        f"{perpex_sim_url}/sim/keys", json={"account": creds["account_id"]}, timeout=10
    ).raise_for_status()
    again = httpx.post(
        f"{perpex_sim_url}/sim/keys", json={"account": creds["account_id"]}, timeout=10
    ).json()
    relinked = link(alice, perpex_sim_url, again["api_key"])
    assert relinked.pk == first.pk
    assert relinked.status == AccountStatus.VERIFIED
    assert credentials_open(relinked) == {"perpex_bearer": again["api_key"]}
    assert fresh["account_id"] != creds["account_id"]


def test_replacing_an_earlier_link_happens_in_one_transaction(
    alice: User, perpex_sim_url: str
) -> None:
    old = link(alice, perpex_sim_url, perpex_credentials(perpex_sim_url)["api_key"], "Demo")
    new = linking.account_link_pasted(
        alice,
        "perpex",
        perpex_venue.endpoints_for_simulator(perpex_sim_url),
        {"api_key": perpex_credentials(perpex_sim_url)["api_key"]},
        "Demo",
        replacing=[old.pk],
    )
    assert list(ExchangeAccount.objects.filter(owner=alice)) == [new]


def test_a_trading_key_needs_a_second_factor_when_the_server_says_so(
    alice: User, perpex_sim_url: str, settings: Any
) -> None:
    settings.REQUIRE_SECOND_FACTOR_FOR_TRADING = True
    with pytest.raises(LinkError, match=r"second factor.*read-only PerpEx key"):
        link(alice, perpex_sim_url, perpex_credentials(perpex_sim_url)["api_key"])
    assert nothing_stored()
    read_only = perpex_credentials(perpex_sim_url, permissions=["read"])
    assert link(alice, perpex_sim_url, read_only["api_key"]).mode == AccountMode.READ_ONLY
    enrol_totp(alice)
    trading = link(alice, perpex_sim_url, perpex_credentials(perpex_sim_url)["api_key"])
    assert trading.mode == AccountMode.TRADING


# --- the page ----------------------------------------------------------------------------


def test_the_link_pages_offer_a_venue_picker(alice_client: Client) -> None:
    standx = alice_client.get("/accounts/links/new/").content.decode()
    assert 'href="/accounts/links/new/perpex/"' in standx
    page = alice_client.get("/accounts/links/new/perpex/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Link your PerpEx account" in html
    assert 'name="api_key"' in html
    assert 'type="password"' in html
    assert 'name="exchange_url"' in html
    assert 'href="/accounts/links/new/"' in html  # back to StandX's own flows


def test_venues_not_offered_or_not_pasted_are_not_found(
    alice_client: Client, settings: Any
) -> None:
    assert alice_client.get("/accounts/links/new/standx/").status_code == 404
    assert alice_client.get("/accounts/links/new/nowhere/").status_code == 404
    settings.VENUES = ["standx"]
    assert alice_client.get("/accounts/links/new/perpex/").status_code == 404
    assert alice_client.get("/accounts/links/new/ocx/").status_code == 404


def test_custom_endpoints_are_offered_only_where_allowed(
    alice_client: Client, settings: Any, perpex_sim_url: str
) -> None:
    settings.PERPEX_ALLOW_CUSTOM_ENDPOINTS = False
    settings.PERPEX_API_URL = perpex_sim_url
    settings.PERPEX_WS_URL = "ws" + perpex_sim_url[4:] + "/ws"
    html = alice_client.get("/accounts/links/new/perpex/").content.decode()
    assert 'name="exchange_url"' not in html
    assert perpex_sim_url in html
    creds = perpex_credentials(perpex_sim_url)
    response = alice_client.post(
        "/accounts/links/new/perpex/",
        {"api_key": creds["api_key"], "exchange_url": "http://127.0.0.1:1"},
    )
    assert response.status_code == 302  # the configured host, whatever the field said
    assert ExchangeAccount.objects.get().origin == perpex_sim_url


def test_linking_through_the_page(alice_client: Client, perpex_sim_url: str) -> None:
    creds = perpex_credentials(perpex_sim_url)
    response = alice_client.post(
        "/accounts/links/new/perpex/",
        {"label": "Perp", "api_key": creds["api_key"], "exchange_url": perpex_sim_url + "/"},
        follow=True,
    )
    html = response.content.decode()
    assert "Linked “Perp” on PerpEx (trading)." in html
    assert creds["api_key"] not in html
    assert ExchangeAccount.objects.get().venue == "perpex"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"api_key": "garbage"}, "That is not a PerpEx API key"),
        ({"api_key": ""}, "This field is required."),
        ({"api_key": "x" * 9000}, "at most 8192 characters"),
        ({"api_key": "{key}", "label": "L" * 81}, "at most 80 characters"),
        ({"api_key": "{key}", "label": "nul\x00"}, "contains a NUL character"),
        ({"api_key": "{key}", "exchange_url": "javascript:alert(1)"}, "http:// or https://"),
        ({"api_key": "{key}", "exchange_url": "ftp://127.0.0.1:21"}, "http:// or https://"),
        ({"api_key": "{key}", "exchange_url": "http://127.0.0.1:1"}, "could not be reached"),
        ({"api_key": "\x00"}, "contains a NUL character"),
    ],
)
def test_garbage_in_every_field_gets_a_sentence_and_stores_nothing(
    alice_client: Client, perpex_sim_url: str, fields: dict[str, str], words: str
) -> None:
    key = perpex_credentials(perpex_sim_url)["api_key"]
    data = {"exchange_url": perpex_sim_url, **fields}
    data = {k: v.replace("{key}", key) for k, v in data.items()}
    response = alice_client.post("/accounts/links/new/perpex/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert words in html
    assert key not in html  # a pasted key is never echoed back
    assert nothing_stored()

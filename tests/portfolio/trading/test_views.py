"""The trading pages: field errors before anything is signed, the preview, the kill switch's
confirmation, the activity page, and random form input (never a server error)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import ExchangeAccount, User
from portfolio.models import AuditEntry, MarketPrice
from tests.conftest import PASSWORD, free_port, market_data_synced
from tests.portfolio.conftest import ledger, logged_in, mark
from venues import standx as standx_venue

pytestmark = pytest.mark.django_db


def order_post(account: ExchangeAccount, action: str, **changes: str | None) -> dict[str, str]:
    data: dict[str, str | None] = {
        "account": str(account.pk),
        "symbol": "ETH-USD",
        "side": "buy",
        "order_type": "limit",
        "qty": "0.1",
        "price": str((mark("ETH-USD") * D("0.9")).quantize(D("0.01"))),
        "time_in_force": "gtc",
        "cl_ord_id": "sxp-test-form-1",
        "action": action,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_field_errors_are_shown_and_nothing_is_sent(
    alice: User, alice_trader: ExchangeAccount, sim_url: str
) -> None:
    response = logged_in(alice).post(
        reverse("portfolio:order_new"), order_post(alice_trader, "submit", qty="0.0001")
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "The order was not sent: see the fields marked below." in page
    assert "Quantity goes in steps of" in page
    assert not AuditEntry.objects.exclude(action="link_key_check").exists()  # nothing sent
    assert not any(
        o["cl_ord_id"] == "sxp-test-form-1" for o in ledger(sim_url, alice_trader)["orders"]
    )


def test_a_halted_symbol_is_not_offered_and_an_order_for_it_is_refused_in_words(
    alice: User,
    alice_trader: ExchangeAccount,
    sim_url: str,
    symbol_status: Callable[[str, str], None],
) -> None:
    symbol_status("ETH-USD", "halt")
    market_data_synced(sim_url)
    client = logged_in(alice)
    offered = client.get(reverse("portfolio:order_new")).context["form"].fields["symbol"].choices
    assert "BTC-USD" in dict(offered)
    assert "ETH-USD" not in dict(offered)
    # A page opened before the halt still posts ETH-USD.
    response = client.post(reverse("portfolio:order_new"), order_post(alice_trader, "submit"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "ETH-USD is not open for trading on StandX right now" in page
    assert "not one of the available choices" not in page
    assert not AuditEntry.objects.exclude(action="link_key_check").exists()  # nothing sent
    assert not any(
        o["cl_ord_id"] == "sxp-test-form-1" for o in ledger(sim_url, alice_trader)["orders"]
    )


def test_preview_shows_the_figures_without_sending(
    alice: User, alice_trader: ExchangeAccount
) -> None:
    response = logged_in(alice).post(
        reverse("portfolio:order_new"), order_post(alice_trader, "preview", qty="1", leverage="5")
    )
    preview = response.context["preview"]
    assert preview.notional == D("1") * D(response.context["form"].cleaned_data["price"])
    assert preview.initial_margin == preview.notional / 5
    assert 'id="order-preview"' in response.content.decode()
    assert not AuditEntry.objects.exclude(action="link_key_check").exists()  # nothing sent


def test_a_fix_link_opens_the_order_filled_in_with_its_preview_and_sends_nothing(
    alice: User, alice_trader: ExchangeAccount, sim_url: str
) -> None:
    query = {
        "account": str(alice_trader.pk),
        "symbol": "ETH-USD",
        "side": "buy",
        "order_type": "market",
        "time_in_force": "ioc",
        "qty": "0.1",
        "preview": "1",
    }
    response = logged_in(alice).get(reverse("portfolio:order_new"), query)
    page = response.content.decode()
    preview = response.context["preview"]
    assert preview.notional == D("0.1") * mark("ETH-USD")
    assert 'id="order-preview"' in page
    assert 'name="qty" value="0.1"' in page
    assert not AuditEntry.objects.exclude(action="link_key_check").exists()  # nothing sent
    assert ledger(sim_url, alice_trader)["orders"] == []


def test_submitting_redirects_to_the_outcome_and_a_resubmit_sends_nothing_new(
    alice: User, alice_trader: ExchangeAccount, sim_url: str
) -> None:
    client = logged_in(alice)
    data = order_post(alice_trader, "submit", cl_ord_id="sxp-test-form-2")
    first = client.post(reverse("portfolio:order_new"), data)
    again = client.post(reverse("portfolio:order_new"), data)
    assert first["Location"] == again["Location"]
    page = client.get(first["Location"]).content.decode()
    assert "Accepted: buy 0.1 ETH-USD" in page
    sent = [
        o for o in ledger(sim_url, alice_trader)["orders"] if o["cl_ord_id"] == "sxp-test-form-2"
    ]
    assert len(sent) == 1


def test_a_market_order_is_sent_and_logged_as_immediate_or_cancel(
    alice: User, alice_trader: ExchangeAccount, sim_url: str
) -> None:
    data = order_post(
        alice_trader, "submit", order_type="market", price=None, cl_ord_id="sxp-test-form-3"
    )
    logged_in(alice).post(reverse("portfolio:order_new"), data)
    entry = AuditEntry.objects.get(cl_ord_id="sxp-test-form-3")
    assert entry.body["time_in_force"] == "ioc"
    [sent] = [
        o for o in ledger(sim_url, alice_trader)["orders"] if o["cl_ord_id"] == "sxp-test-form-3"
    ]
    assert sent["time_in_force"] == "ioc"


def test_a_first_order_in_a_symbol_with_no_stored_mark_reads_it_from_the_venue_and_is_sent(
    alice: User, alice_trader: ExchangeAccount, sim_url: str
) -> None:
    data = order_post(alice_trader, "submit", cl_ord_id="sxp-first-order")
    MarketPrice.objects.all().delete()  # no feed ever carried a mark for ETH-USD
    response = logged_in(alice).post(reverse("portfolio:order_new"), data)
    assert response.status_code == 302, response.context["form"].errors
    [sent] = [
        o for o in ledger(sim_url, alice_trader)["orders"] if o["cl_ord_id"] == "sxp-first-order"
    ]
    assert (sent["symbol"], sent["side"], D(sent["qty"])) == ("ETH-USD", "buy", D("0.1"))
    assert MarketPrice.objects.get(symbol="ETH-USD").source == "rest"  # kept for the next form


def test_with_no_stored_mark_and_no_answer_from_the_venue_the_form_says_so(
    alice: User, alice_trader: ExchangeAccount
) -> None:
    data = order_post(alice_trader, "submit")
    MarketPrice.objects.all().delete()
    nowhere = standx_venue.endpoints_for_simulator(f"http://127.0.0.1:{free_port()}")
    ExchangeAccount.objects.filter(pk=alice_trader.pk).update(
        endpoints=dict(nowhere.urls)  # nothing listens there
    )
    response = logged_in(alice).post(reverse("portfolio:order_new"), data)
    assert response.status_code == 200
    assert (
        "No market data for ETH-USD yet, and the exchange did not send its price just now"
        in response.content.decode()
    )
    assert not AuditEntry.objects.exclude(action="link_key_check").exists()  # nothing sent


def test_a_stale_stored_mark_is_read_again_before_an_order_is_checked_against_it(
    alice: User, alice_trader: ExchangeAccount
) -> None:
    live = mark("ETH-USD")
    data = order_post(alice_trader, "preview")  # a limit price 10 % under the live mark
    an_hour_ago = timezone.now() - timedelta(hours=1)
    MarketPrice.objects.filter(symbol="ETH-USD").update(
        mark_price=live * 100, updated_at=an_hour_ago
    )
    response = logged_in(alice).post(reverse("portfolio:order_new"), data)
    assert not response.context["form"].errors  # checked against the live mark, not the stale
    assert response.context["form"].mark < live * 2
    assert MarketPrice.objects.get(symbol="ETH-USD").updated_at > an_hour_ago


FAT_FINGERS = ["1e3", "1_0", "+1", " 1 ", "\u0661\u0662", "0x1", "1,5"]


@pytest.mark.parametrize("field", ["qty", "price", "tp_price", "sl_price"])
@pytest.mark.parametrize("typed", FAT_FINGERS)
def test_an_amount_that_is_not_plain_digits_is_refused_with_advice_and_nothing_is_sent(
    alice: User, alice_trader: ExchangeAccount, sim_url: str, field: str, typed: str
) -> None:
    data = order_post(alice_trader, "submit", **{field: typed})
    response = logged_in(alice).post(reverse("portfolio:order_new"), data)
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [
        "Use plain digits, like 0.5 (no sign, spaces, exponent or separators)."
    ]
    assert not AuditEntry.objects.exclude(action="link_key_check").exists()  # nothing sent
    assert not any(
        o["cl_ord_id"] == "sxp-test-form-1" for o in ledger(sim_url, alice_trader)["orders"]
    )


@pytest.mark.parametrize("typed", ["1e1", "+5", " 5", "\u0665", "5.0"])
def test_leverage_is_plain_digits_on_the_order_form_and_the_adjust_panel(
    alice: User, alice_trader: ExchangeAccount, typed: str
) -> None:
    client = logged_in(alice)
    advice = "Use plain digits, like 10 (no sign, spaces, exponent or separators)."
    order = client.post(
        reverse("portfolio:order_new"), order_post(alice_trader, "preview", leverage=typed)
    )
    assert order.context["form"].errors["leverage"] == [advice]
    adjust = client.post(
        reverse("portfolio:position_adjust"),
        {"account": alice_trader.pk, "symbol": "BTC-USD", "leverage": typed, "action": "leverage"},
        follow=True,
    )
    assert advice in adjust.content.decode()
    assert not AuditEntry.objects.exclude(action="link_key_check").exists()  # nothing sent


@pytest.mark.parametrize("typed", FAT_FINGERS)
def test_margin_to_add_is_plain_digits_too(
    alice: User, alice_trader: ExchangeAccount, typed: str
) -> None:
    response = logged_in(alice).post(
        reverse("portfolio:position_adjust"),
        {"account": alice_trader.pk, "symbol": "BTC-USD", "amount": typed, "action": "add_margin"},
        follow=True,
    )
    assert "Use plain digits, like 0.5" in response.content.decode()
    assert not AuditEntry.objects.exclude(action="link_key_check").exists()  # nothing sent


def test_a_read_only_user_is_told_how_to_trade(alice: User) -> None:
    page = logged_in(alice).get(reverse("portfolio:order_new")).content.decode()
    assert "None of your accounts is linked for trading" in page


@pytest.mark.parametrize(
    ("phrase", "password", "message"),
    [
        ("close all", PASSWORD, 'Type exactly "CLOSE ALL".'),
        ("CLOSE ALL", "wrong", "That is not your password."),
    ],
)
def test_the_kill_switch_needs_the_phrase_and_the_password(
    alice: User, alice_trader: ExchangeAccount, phrase: str, password: str, message: str
) -> None:
    response = logged_in(alice).post(
        reverse("portfolio:kill_switch"),
        {"account": alice_trader.pk, "phrase": phrase, "password": password},
    )
    errors = [e for messages in response.context["form"].errors.values() for e in messages]
    assert message in errors
    assert not AuditEntry.objects.exclude(action="link_key_check").exists()  # nothing sent


def test_the_activity_page_lists_only_the_users_own_requests(
    alice: User, bob: User, alice_trader: ExchangeAccount
) -> None:
    logged_in(alice).post(reverse("portfolio:order_new"), order_post(alice_trader, "submit"))
    assert "sxp-test-form-1" in logged_in(alice).get(reverse("portfolio:activity")).content.decode()
    assert (
        "sxp-test-form-1" not in logged_in(bob).get(reverse("portfolio:activity")).content.decode()
    )


text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "1", "-1", "1e9", "0.00001", "NaN", "buy", "limit", "alo", "on"]),
)


FIELDS = (
    "symbol",
    "side",
    "order_type",
    "qty",
    "price",
    "time_in_force",
    "reduce_only",
    "tp_price",
    "sl_price",
    "leverage",
    "margin_mode",
    "account",
    "cl_ord_id",
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fields=st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, text)))
def test_random_form_input_gets_a_page_with_messages_never_a_server_error(
    alice: User, alice_trader: ExchangeAccount, fields: dict[str, Any]
) -> None:
    data = {k: v.replace("\x00", "") for k, v in fields.items()}
    data["action"] = "preview"  # never "submit": random input must not reach the exchange
    response = logged_in(alice).post(reverse("portfolio:order_new"), data)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.is_bound
    if form.errors:
        assert "see the fields marked below" in response.content.decode()

"""The fix where the trader looks: the alert, the alert centre, the push, the email, the
positions page, and the link that opens it filled in (never sent).

Alice holds SOL-USD on StandX at entry 100 with a 1 % maintenance rate; her default health rules
warn below 2× and clear at 2.3×, so a fix brings health back to 2.30×.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import ExchangeAccount, User
from portfolio.alerts import email as notify
from portfolio.alerts import evaluation as alerting
from portfolio.alerts import push
from portfolio.models import Alert, AlertEvent, AlertSettings, AuditEntry, Position
from tests import factories
from tests.portfolio.alerts.test_evaluation import NOW, balance, hold_sol, make_account, move

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def account(alice: User) -> ExchangeAccount:
    return make_account(alice)


def listed_sol() -> None:
    factories.make_market_symbol("standx", "SOL-USD", "SOL", qty_tick_decimals=2)


def hold_sol_cross(account: ExchangeAccount) -> Position:
    """20 SOL cross at 100 with 60 DUSD in the wallet: health 60 / 20 = 3× at the entry."""
    p = hold_sol(account)
    p.margin_mode, p.holding_margin = "cross", None
    p.save()
    balance(account, "60")
    return p


def firing(key: str = "health-critical") -> Alert:
    return Alert.objects.get(rule__key=key, status="firing")


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_critical_isolated_alert_says_how_much_margin_to_add(account: ExchangeAccount) -> None:
    hold_sol(account)
    move("91.1")
    alert = firing()
    # E = 200 - 20 x 8.9 = 22, MM = 18.22: 2.3 x 18.22 - 22 = 19.906, up to the cent
    assert alert.fix == "Add 19.91 margin to SOL-USD to get back to 2.30×."
    assert alert.body.endswith(" Add 19.91 margin to SOL-USD to get back to 2.30×.")
    assert "clears at 1.50×" in alert.body
    event = AlertEvent.objects.get(alert=alert)
    assert event.body == alert.body  # what the push and the email say


def test_a_critical_cross_alert_says_how_much_to_reduce(account: ExchangeAccount) -> None:
    listed_sol()
    hold_sol_cross(account)
    move("98.2")
    alert = firing()
    # E = 60 - 36 = 24, MM = 19.64: q >= (2.3 x 19.64 - 24) / (98.2 (0.023 - 0.0004)) = 9.54
    assert alert.fix == "Reduce SOL-USD by 9.54 to get back to 2.30×."
    assert alert.body.endswith(alert.fix)


def test_the_alert_centre_links_the_fix(account: ExchangeAccount) -> None:
    hold_sol(account)
    move("91.1")
    alert = firing()
    payload = alerting.alert_payload(alert, "Main")
    assert payload["fix"] == alert.fix
    assert payload["fix_url"] == f"/positions/{account.pk}/SOL-USD/fix/"
    page = logged_in(account.owner).get(reverse("portfolio:alerts")).content.decode()
    assert f'href="/positions/{account.pk}/SOL-USD/fix/">{alert.fix}</a>' in page


def test_a_resolved_alert_carries_no_fix(account: ExchangeAccount) -> None:
    hold_sol(account)
    move("91.1")
    move("100")
    alert = Alert.objects.get(rule__key="health-critical")
    assert (alert.status, alert.fix) == ("resolved", "")
    assert "Add" not in alert.body
    assert alerting.alert_payload(alert, "Main")["fix_url"] == ""


def test_the_push_carries_the_fix_and_opens_it(account: ExchangeAccount) -> None:
    hold_sol(account)
    move("91.1")
    event = AlertEvent.objects.select_related("alert__rule").get(alert=firing())
    message = push.message_for(event)
    assert message.payload["body"].endswith("Add 19.91 margin to SOL-USD to get back to 2.30×.")
    assert message.payload["url"] == f"/positions/{account.pk}/SOL-USD/fix/"


def test_the_email_carries_the_fix_and_its_link(account: ExchangeAccount) -> None:
    AlertSettings.objects.filter(user=account.owner).update(
        email="alice@example.com", email_verified_at=NOW
    )
    hold_sol(account)
    move("91.1")
    event = AlertEvent.objects.get(alert=firing())
    assert notify.alert_email_send(event.pk) is True
    [message] = mail.outbox
    assert "Add 19.91 margin to SOL-USD to get back to 2.30×." in message.body
    assert f"/positions/{account.pk}/SOL-USD/fix/" in message.body
    assert "nothing is sent until you confirm" in message.body


def test_the_positions_page_shows_the_fix_with_its_result(account: ExchangeAccount) -> None:
    listed_sol()
    hold_sol_cross(account)
    move("98.2")
    page = logged_in(account.owner).get(reverse("portfolio:positions")).content.decode()
    assert "Reduce SOL-USD by 9.54 to get back to 2.30×." in page
    # 24 - 9.54 x 98.2 x 0.0004 = 23.625 over 10.46 x 0.982 = 10.272: 2.30×
    assert "Then health 2.30×, liquidation " in page


def test_a_healthy_position_shows_no_fix(account: ExchangeAccount) -> None:
    listed_sol()
    hold_sol_cross(account)
    move("100")
    page = logged_in(account.owner).get(reverse("portfolio:positions")).content.decode()
    assert 'data-field="fix"' not in page


def test_the_fix_link_of_a_read_only_account_says_it_in_words(account: ExchangeAccount) -> None:
    listed_sol()
    hold_sol_cross(account)
    move("98.2")
    client = logged_in(account.owner)
    response = client.get(reverse("portfolio:position_fix", args=[account.pk, "SOL-USD"]))
    assert response.status_code == 302
    assert response["Location"] == f"/positions/#pos-{account.pk}-SOL-USD"
    page = client.get(response["Location"]).content.decode()
    assert "Reduce SOL-USD by 9.54 to get back to 2.30×." in page


def test_the_fix_link_of_a_recovered_position_says_so(account: ExchangeAccount) -> None:
    hold_sol(account)
    move("100")
    client = logged_in(account.owner)
    response = client.get(
        reverse("portfolio:position_fix", args=[account.pk, "SOL-USD"]), follow=True
    )
    assert "back above your warning level: nothing to fix" in response.content.decode()


def test_the_fix_link_of_a_trading_account_opens_the_reduce_order_filled_in(
    account: ExchangeAccount, monkeypatch: Any
) -> None:
    listed_sol()
    hold_sol_cross(account)
    move("98.2")
    monkeypatch.setattr(ExchangeAccount, "can_trade", property(lambda self: True))
    response = logged_in(account.owner).get(
        reverse("portfolio:position_fix", args=[account.pk, "SOL-USD"])
    )
    url = urlsplit(response["Location"])
    assert url.path == reverse("portfolio:order_new")
    assert {k: v[0] for k, v in parse_qs(url.query).items()} == {
        "account": str(account.pk),
        "symbol": "SOL-USD",
        "side": "sell",
        "order_type": "market",
        "time_in_force": "ioc",
        "qty": "9.54",
        "reduce_only": "on",
        "preview": "1",
    }
    assert not AuditEntry.objects.exists()  # a link never sends

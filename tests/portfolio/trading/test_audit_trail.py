"""A signed request never outside its audit trail: the entry is committed before the request
leaves, survives whatever fails after it, and one cut off while "sending" is settled from the
venue's own records. Transactional tests: what is asserted is what was committed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ExchangeAccount, User
from portfolio.models import AuditEntry, AuditStatus
from portfolio.trading import services as trading
from tests.portfolio.conftest import ledger, mark
from tests.portfolio.trading.test_views import order_post
from tests.standx_access import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def sent_with(sim_url: str, account: ExchangeAccount, cl_ord_id: str) -> int:
    return [o["cl_ord_id"] for o in ledger(sim_url, account)["orders"]].count(cl_ord_id)


def browser_of(user: User) -> Client:
    """A client that answers a server error with a 500 page, as a browser sees it."""
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_a_failure_after_the_post_leaves_a_committed_entry_and_one_order(
    alice: User, alice_trader: ExchangeAccount, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dies(*args: Any, **kwargs: Any) -> AuditEntry:
        raise RuntimeError("the worker died after the POST")

    monkeypatch.setattr(trading, "order_outcome", dies)
    data = order_post(alice_trader, "submit", cl_ord_id="sxp-test-dies-after-post")
    client = browser_of(alice)
    assert client.post(reverse("portfolio:order_new"), data).status_code == 500
    # The request failed, yet its entry is committed: the claim that makes a retry safe holds.
    entry = AuditEntry.objects.get(cl_ord_id="sxp-test-dies-after-post")
    assert entry.status == AuditStatus.SENT
    assert entry.request_id
    assert sent_with(sim_url, alice_trader, "sxp-test-dies-after-post") == 1

    monkeypatch.undo()
    client.post(reverse("portfolio:order_new"), data)  # the trader submits the form again
    assert sent_with(sim_url, alice_trader, "sxp-test-dies-after-post") == 1
    assert AuditEntry.objects.filter(cl_ord_id="sxp-test-dies-after-post").count() == 1


def test_a_failure_after_a_cancel_keeps_its_entry(
    alice: User, alice_trader: ExchangeAccount, sim_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with client_for(alice_trader) as exchange:
        order = exchange.new_order(
            symbol="ETH-USD",
            side="buy",
            order_type="limit",
            qty="0.1",
            price=str((mark("ETH-USD") * D("0.9")).quantize(D("0.01"))),
            cl_ord_id="sxp-test-rests",
        )
        order_id = str(exchange.query_order(cl_ord_id="sxp-test-rests").id)
    assert order.request_id

    def dies(entry: AuditEntry, *args: Any, **kwargs: Any) -> AuditEntry:
        raise RuntimeError("Redis went away while recording the outcome")

    monkeypatch.setattr(trading, "_finish", dies)
    url = reverse("portfolio:order_cancel", args=[alice_trader.pk, order_id])
    assert browser_of(alice).post(url).status_code == 500
    [entry] = AuditEntry.objects.filter(action="cancel_order")
    assert entry.body == {"order_id": order_id}
    statuses = {o["cl_ord_id"]: o["status"] for o in ledger(sim_url, alice_trader)["orders"]}
    assert statuses["sxp-test-rests"] == "canceled"


def entry_cut_off(
    user: User, account: ExchangeAccount, cl_ord_id: str, minutes_ago: int = 2
) -> AuditEntry:
    return AuditEntry.objects.create(
        user=user,
        account=account,
        account_label=account.label,
        action="new_order",
        endpoint="/api/new_order",
        body={"cl_ord_id": cl_ord_id},
        cl_ord_id=cl_ord_id,
        status=AuditStatus.SENDING,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_an_entry_cut_off_while_sending_is_settled_from_the_venue(
    alice: User, alice_trader: ExchangeAccount, sim_url: str
) -> None:
    # The worker sent this order, then was killed before it could record anything.
    with client_for(alice_trader) as exchange:
        exchange.new_order(
            symbol="ETH-USD",
            side="buy",
            order_type="market",
            qty="0.01",
            time_in_force="ioc",
            cl_ord_id="sxp-test-reached",
        )
    reached = entry_cut_off(alice, alice_trader, "sxp-test-reached")
    # This one was killed before its request left.
    lost = entry_cut_off(alice, alice_trader, "sxp-test-never-sent")
    # A request in flight right now is left alone.
    fresh = entry_cut_off(alice, alice_trader, "sxp-test-in-flight", minutes_ago=0)

    assert trading.audit_settle_stale() == 2

    reached.refresh_from_db()
    assert reached.status == AuditStatus.FILLED
    assert reached.result.startswith("Filled: buy 0.01 ETH-USD")
    assert reached.exchange_order_id
    lost.refresh_from_db()
    assert (lost.status, lost.result) == (
        AuditStatus.FAILED,
        "StandX never received it: nothing was traded.",
    )
    fresh.refresh_from_db()
    assert fresh.status == AuditStatus.SENDING
    assert trading.audit_settle_stale() == 0  # settled once

    # Submitting the same form again sends nothing new.
    data = order_post(alice_trader, "submit", cl_ord_id="sxp-test-reached")
    browser_of(alice).post(reverse("portfolio:order_new"), data)
    assert sent_with(sim_url, alice_trader, "sxp-test-reached") == 1


def test_an_action_without_a_client_order_id_is_marked_for_checking(
    alice: User, alice_trader: ExchangeAccount
) -> None:
    entry = entry_cut_off(alice, alice_trader, "")
    assert trading.audit_settle_stale() == 1
    entry.refresh_from_db()
    assert entry.status == AuditStatus.FAILED
    assert "check the orders and positions pages" in entry.result

"""Trading a PerpEx account through the venue-neutral services (``portfolio.trading``), against
the PerpEx simulator: the session's writes are all the services need."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from accounts.models import ExchangeAccount, User
from portfolio.domain import order_rules
from portfolio.models import AuditStatus
from portfolio.trading import services as trading
from tests.conftest import perpex_linked
from tests.perpex_sim.helpers import SimControl, sim

__all__ = ["sim"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def perp(alice: User, sim: SimControl) -> ExchangeAccount:
    return perpex_linked(alice, sim.base_url, label="Perp")


def ledger_orders(sim: SimControl, account: ExchangeAccount) -> dict[str, dict[str, Any]]:
    return {o["clientOrderId"]: o for o in sim.ledger(account.identity)["orders"]}


def test_a_perpex_order_is_placed_and_cancelled_through_the_services(
    alice: User, perp: ExchangeAccount, sim: SimControl
) -> None:
    price = (D(sim.mark("ETH-USD")) * D("0.9")).quantize(D("0.1"))
    ticket = order_rules.Ticket(
        symbol="ETH-USD", side="buy", order_type="limit", qty=D("0.5"), price=price
    )
    cl = trading.new_cl_ord_id()
    placed = trading.order_submit(user_id=alice.pk, account_id=perp.pk, ticket=ticket, cl_ord_id=cl)
    assert placed.status == AuditStatus.ACCEPTED
    assert (
        placed.result == f"Accepted: buy 0.5 ETH-USD at {price.normalize():f}, resting on the book."
    )
    assert placed.endpoint == "/api/v1/orders"
    order = ledger_orders(sim, perp)[cl]
    assert placed.exchange_order_id == order["id"] == placed.request_id
    assert order["status"] == "open"

    cancelled = trading.order_cancel(
        user_id=alice.pk, account_id=perp.pk, order_id=placed.exchange_order_id
    )
    assert cancelled.status == AuditStatus.DONE
    assert cancelled.result == f"Order {order['id']} canceled."
    assert ledger_orders(sim, perp)[cl]["status"] == "canceled"


def test_a_market_order_fills_and_the_close_button_closes_it(
    alice: User, perp: ExchangeAccount, sim: SimControl
) -> None:
    ticket = order_rules.Ticket(
        symbol="SOL-USD",
        side="buy",
        order_type="market",
        qty=D(3),
        time_in_force="ioc",
        leverage=5,
        margin_mode="isolated",
    )
    filled = trading.order_submit(
        user_id=alice.pk, account_id=perp.pk, ticket=ticket, cl_ord_id=trading.new_cl_ord_id()
    )
    assert filled.status == AuditStatus.FILLED
    assert filled.result.startswith("Filled: buy 3 SOL-USD at ")
    closed = trading.position_close(user_id=alice.pk, account_id=perp.pk, symbol="SOL-USD")
    assert closed.status == AuditStatus.FILLED
    assert closed.action == "close_position"
    assert sim.call("GET", "/sim/ledger", account=perp.identity)["orders"][-1]["reduceOnly"]


def test_cancel_all_is_emulated_and_what_perpex_cannot_do_is_refused_in_words(
    alice: User, perp: ExchangeAccount, sim: SimControl
) -> None:
    price = (D(sim.mark("SOL-USD")) * D("0.8")).quantize(D("0.01"))
    for _ in range(3):
        ticket = order_rules.Ticket(
            symbol="SOL-USD", side="buy", order_type="limit", qty=D(1), price=price
        )
        trading.order_submit(
            user_id=alice.pk, account_id=perp.pk, ticket=ticket, cl_ord_id=trading.new_cl_ord_id()
        )
    entry = trading.orders_cancel_all(user_id=alice.pk, account_id=perp.pk)
    assert (entry.status, entry.result) == (AuditStatus.DONE, "3 open orders canceled.")
    assert {o["status"] for o in ledger_orders(sim, perp).values()} == {"canceled"}
    refused = trading.leverage_change(
        user_id=alice.pk, account_id=perp.pk, symbol="SOL-USD", leverage=3
    )
    assert refused.status == AuditStatus.REJECTED
    assert refused.result == (
        "PerpEx rejected it: PerpEx takes the leverage with the order that opens a position: "
        "choose it on the order form."
    )

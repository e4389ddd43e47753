"""A stream worker keeps accounts in the database from their streams alone."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import ExchangeAccount
from exchange_common.ratelimit import NoRateLimit
from portfolio.models import BalanceSnapshot, Order, Position, StreamLease, StreamWorker, Trade
from portfolio.sync import pipeline as sync
from tests.conftest import wait_for
from tests.portfolio.conftest import logged_in
from tests.standx_access import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def streaming(account: ExchangeAccount) -> bool:
    """The account's stream is held, connected and was seen within the last two seconds."""
    lease = StreamLease.objects.filter(pk=account.pk).first()
    now = timezone.now()
    return bool(
        lease
        and lease.connected_at
        and lease.lease_until
        and lease.lease_until > now
        and lease.seen_at
        and (now - lease.seen_at).total_seconds() < 2
    )


def test_it_stores_orders_fills_positions_and_balance_from_the_stream_alone(
    alice_trader: ExchangeAccount, stream_workers: Callable[..., Any]
) -> None:
    stream_workers()
    wait_for(lambda: streaming(alice_trader), timeout=20)
    with client_for(alice_trader, rate_limiter=NoRateLimit()) as client:
        client.new_order(symbol="BTC-USD", side="buy", order_type="market", qty="0.01")
        wait_for(lambda: Position.objects.filter(account=alice_trader).exists(), timeout=10)
        position = client.query_positions(symbol="BTC-USD")[0]
        balance = client.query_balance()
    stored = Position.objects.get(account=alice_trader, symbol="BTC-USD")
    assert (stored.qty, stored.entry_price) == (Decimal("0.01"), position.entry_price)
    order = Order.objects.get(account=alice_trader)
    assert order.status == "filled"
    assert Trade.objects.filter(account=alice_trader, order_exchange_id=order.exchange_id).exists()
    wait_for(
        lambda: BalanceSnapshot.objects.filter(account=alice_trader, cash=balance.balance).exists(),
        timeout=10,
    )
    worker = StreamWorker.objects.get()
    assert (worker.accounts, worker.connected) == (1, 1)
    lease = StreamLease.objects.get(pk=alice_trader.pk)
    assert lease.holder == worker.name
    assert lease.last_event_at is not None
    assert lease.lease_until is not None and lease.lease_until > timezone.now()


def test_it_shows_a_streamed_accounts_age_and_source_on_the_overview(
    alice_trader: ExchangeAccount, stream_workers: Callable[..., Any]
) -> None:
    stream_workers()
    wait_for(lambda: streaming(alice_trader), timeout=20)
    page = logged_in(alice_trader.owner).get(reverse("portfolio:overview")).content.decode()
    assert "· reconciling" in page  # its connection's full read is owed
    sync.account_sync(alice_trader.pk, limiter=NoRateLimit())
    page = logged_in(alice_trader.owner).get(reverse("portfolio:overview")).content.decode()
    assert 'data-source="stream"' in page
    assert "updated 0 s ago · stream" in page or "updated 1 s ago · stream" in page

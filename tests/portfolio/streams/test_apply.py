"""Stored events: through the sync's upserts, re-priced at the stored mark."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.utils import timezone

from accounts.models import User
from portfolio.models import BalanceSnapshot, MarketPrice, Position, SyncState
from portfolio.streams import apply
from tests.factories import make_account
from venues.events import BalanceChanged, PositionChanged

pytestmark = pytest.mark.django_db
AT = datetime(2026, 12, 1, 10, tzinfo=UTC)


def shape(qty: str, entry: str = "100", mode: str = "cross") -> PositionChanged:
    return PositionChanged(
        symbol="BTC-USD",
        exchange_id="7",
        qty=D(qty),
        entry_price=D(entry),
        margin_mode=mode,
        leverage=D(10),
        initial_margin=D(1),
        realized_pnl=D(0),
        opened_at=AT,
        at=AT,
    )


def stored(owner: User) -> tuple[int, Position]:
    account = make_account(owner)
    MarketPrice.objects.create(
        venue="standx", symbol="BTC-USD", mark_price=D(110), updated_at=timezone.now()
    )
    figures = {"mark_price": D(100), "position_value": D(100), "maint_margin": D(2)}
    position = Position.objects.create(
        account=account,
        symbol="BTC-USD",
        exchange_id="7",
        qty=D(1),
        entry_price=D(100),
        margin_mode="cross",
        synced_at=timezone.now(),
        **figures,
    )
    SyncState.objects.create(account=account, next_due_at=AT, last_full_sync_at=AT)
    return account.pk, position


def test_it_reprices_a_new_size_at_the_stored_mark_and_keeps_the_margin_rate(
    alice: User,
) -> None:
    account, _ = stored(alice)
    applied = apply.events_apply({account: [shape("2")]}, timezone.now())
    p = Position.objects.get(account_id=account)
    assert (p.qty, p.mark_price, p.position_value, p.upnl) == (2, 110, 220, 20)
    assert p.maint_margin == D("4.4")  # 2 % of the notional, as at the last full read
    assert applied.needs_reconcile == set()


def test_it_deletes_a_closed_position_and_asks_for_a_full_read_of_a_new_one(
    alice: User,
) -> None:
    account, _ = stored(alice)
    apply.events_apply({account: [shape("0")]}, timezone.now())
    assert not Position.objects.filter(account_id=account).exists()
    applied = apply.events_apply({account: [shape("-1", "110")]}, timezone.now())
    assert Position.objects.get(account_id=account).maint_margin is None
    assert applied.needs_reconcile == {account}
    assert SyncState.objects.get(pk=account).last_full_sync_at is None


def test_it_adds_the_positions_upnl_to_a_wallet_reading(alice: User) -> None:
    account, _ = stored(alice)
    wallet = BalanceChanged(cash=D(1000), locked=D(5), margin_used=D(10), free=D(985), at=AT)
    apply.events_apply({account: [wallet]}, timezone.now())
    b = BalanceSnapshot.objects.get(account_id=account)
    # One BTC long from 100 re-priced at the stored position's mark of 100: no uPnL yet.
    assert (b.cash, b.equity, b.available, b.cross_balance) == (1000, 1000, 985, 1000)


def test_a_held_streams_repr_names_no_secret() -> None:
    from portfolio.streams.worker import Held

    held = Held(1, stream=None, secrets={"standx_token": "eyJ-the-token"})  # type: ignore[arg-type]
    assert "eyJ-the-token" not in repr(held)

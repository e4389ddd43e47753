"""Storing what account streams pushed, through the sync's own upserts (one write path).

A batch holds the events of many accounts, in the order each stream delivered them, and is
stored in one transaction: orders and fills on their exchange ids exactly as a REST read stores
them; the last shape of each position, re-priced at the stored mark (streams leave out the
figures that move with the mark); the last wallet reading as a balance point. After the commit
the owners' pages hear that their numbers moved and the accounts' alert rules are queued for
the next batched evaluation, as after a sync.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from accounts.models import ExchangeAccount
from portfolio import realtime
from portfolio.alerts import batches as alert_batches
from portfolio.models import BalanceSnapshot, MarketPrice, Position
from portfolio.streams import leases
from portfolio.sync import pipeline
from venues.account import AccountBalance, AccountFill, AccountOrder, AccountPosition, Source
from venues.events import (
    AccountEvent,
    BalanceChanged,
    FillReceived,
    OrderChanged,
    PositionChanged,
    StreamBreak,
)

logger = logging.getLogger(__name__)
ZERO = Decimal(0)


@dataclass
class Applied:
    """What a batch stored: events per account, and the accounts whose figures stay estimated
    until a full read (a new position: no maintenance-margin rate to re-price it with)."""

    events: int = 0
    accounts: set[int] = field(default_factory=set)
    needs_reconcile: set[int] = field(default_factory=set)


def _rate(current: Position | None) -> Decimal | None:
    """The position's maintenance-margin rate at its last full read (kept while it re-prices)."""
    if current is None or not current.maint_margin or not current.position_value:
        return None
    return current.maint_margin / current.position_value


def position_repriced(
    current: Position | None, event: PositionChanged, mark: Decimal | None
) -> AccountPosition | None:
    """The pushed shape with the figures that move with the mark estimated from ``mark``
    (None: the position was closed). The maintenance margin keeps its last rate, as the risk
    engine does between reads; the liquidation price is the risk engine's until the venue's
    arrives with the next full read."""
    if event.qty == 0:
        return None
    price = mark or (current.mark_price if current else None) or event.entry_price
    notional = abs(event.qty) * price
    rate = _rate(current)
    isolated = event.margin_mode == "isolated"
    same_size = current is not None and current.qty == event.qty
    return AccountPosition(
        symbol=event.symbol,
        exchange_id=event.exchange_id,
        qty=event.qty,
        entry_price=event.entry_price,
        margin_mode=event.margin_mode,
        mark_price=price,
        notional=notional,
        upnl=event.qty * (price - event.entry_price),
        realized_pnl=event.realized_pnl,
        leverage=event.leverage,
        initial_margin=event.initial_margin,
        # An isolated position's margin moves with transfers the frame does not carry.
        isolated_margin=(
            (current.holding_margin if same_size and current else event.initial_margin)
            if isolated
            else None
        ),
        maint_margin=rate * notional if rate is not None else None,
        liq_price=current.liq_price if same_size and current else None,
        liq_source=Source.REPORTED,
        opened_at=event.opened_at,
    )


def _balance(
    change: BalanceChanged, positions: Mapping[str, Position], last: BalanceSnapshot | None
) -> AccountBalance:
    """The wallet reading with the stored positions' uPnL: equity, the cross scope (cash less
    what isolated positions hold) and what a new order could use."""
    upnl = sum((p.upnl or ZERO for p in positions.values()), ZERO)
    cross = [p for p in positions.values() if p.margin_mode != "isolated"]
    cross_upnl = sum((p.upnl or ZERO for p in cross), ZERO)
    isolated = sum(
        (p.holding_margin or ZERO for p in positions.values() if p.margin_mode == "isolated"),
        ZERO,
    )
    return AccountBalance(
        equity=change.cash + upnl,
        cash=change.cash,
        upnl=upnl,
        margin_used=change.margin_used,
        available=change.free + cross_upnl,
        locked=change.locked,
        realized_24h=last.realized_24h if last else None,
        cross_balance=change.cash - isolated,
        cross_upnl=cross_upnl,
    )


def _account_apply(
    account: ExchangeAccount, events: list[AccountEvent], now: datetime, applied: Applied
) -> datetime | None:
    orders: list[AccountOrder] = []
    fills: list[AccountFill] = []
    shapes: dict[str, PositionChanged] = {}  # the last shape of each symbol wins
    wallet: BalanceChanged | None = None
    newest: datetime | None = None
    for event in events:
        if isinstance(event, StreamBreak):
            continue
        if event.at is not None and (newest is None or event.at > newest):
            newest = event.at
        if isinstance(event, OrderChanged):
            orders.append(event.order)
        elif isinstance(event, FillReceived):
            fills.append(event.fill)
        elif isinstance(event, PositionChanged):
            shapes[event.symbol] = event
        elif isinstance(event, BalanceChanged):
            wallet = event
        applied.events += 1
    pipeline.orders_upsert(account, orders, now)
    pipeline.fills_insert(account, fills)
    if shapes or wallet is not None:
        # Streamed venues key a position by its symbol alone (the empty position key).
        held = Position.objects.select_for_update().filter(account=account, position_key="")
        current = {p.symbol: p for p in held}
        marks = dict(
            MarketPrice.objects.filter(venue=account.venue, symbol__in=list(shapes)).values_list(
                "symbol", "mark_price"
            )
        )
        for symbol, shape in shapes.items():
            before = current.get(symbol)
            incoming = position_repriced(before, shape, marks.get(symbol))
            if incoming is not None and (incoming.maint_margin is None or incoming.isolated_margin):
                applied.needs_reconcile.add(account.pk)
            stored = pipeline.position_store(account, symbol, before, incoming, now)
            if stored is None:
                current.pop(symbol, None)
            else:  # the row as stored, without reading it back
                current[symbol] = stored
        if wallet is not None:
            last = BalanceSnapshot.objects.filter(account=account).order_by("-taken_at").first()
            pipeline.balance_store(account, _balance(wallet, current, last), now)
    applied.accounts.add(account.pk)
    return newest


def events_apply(batch: Mapping[int, list[AccountEvent]], now: datetime) -> Applied:
    """Store one batch (account id -> its events in delivery order) in one transaction."""
    applied = Applied()
    accounts = ExchangeAccount.objects.filter(pk__in=list(batch)).only("pk", "owner_id", "venue")
    owners: set[int] = set()
    with transaction.atomic():
        newest: dict[int, datetime] = {}
        for account in accounts:
            at = _account_apply(account, batch[account.pk], now, applied)
            if at is not None:
                newest[account.pk] = at
            owners.add(account.owner_id)
        leases.streams_note_events(newest)
        if applied.needs_reconcile:
            leases.reconcile_request(applied.needs_reconcile, now)
        # Both run after the commit: the pages re-read what is now stored.
        realtime.publish_portfolio_changed(owners)
    for account_id in sorted(applied.accounts):
        try:
            alert_batches.alerts_evaluate_soon(account_id)
        except Exception:  # the data is stored; an alert bug must not lose the batch
            logger.exception("could not queue the alert evaluation of account %s", account_id)
    return applied

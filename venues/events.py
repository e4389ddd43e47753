"""An account's pushed changes, as every venue with account events reports them.

A venue whose :class:`venues.base.Capabilities` declare ``account_events`` and whose adapter is an
:class:`AccountEvents` gives one authenticated stream per linked account. Its events are
normalized here (frozen dataclasses, ``Decimal`` money, text ids), so the stream worker stores
them through the same upserts as the REST sync, whatever the venue.

A stream is not a complete record: whenever it cannot vouch for what it missed (the first
connection, a reconnect, a sequence gap) it says so with :class:`StreamBreak`, and the caller
reads the account in full over REST.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from venues.account import AccountFill, AccountOrder
from venues.base import Endpoints


@dataclass(frozen=True)
class OrderChanged:
    """An order was placed, filled (partly), cancelled or rejected: its whole record."""

    order: AccountOrder
    at: datetime | None  # the venue's time of the change


@dataclass(frozen=True)
class FillReceived:
    fill: AccountFill
    at: datetime | None


@dataclass(frozen=True)
class PositionChanged:
    """A position's shape: size (signed; 0 = closed), entry, mode, leverage, the margin it
    holds. Streams leave out what moves with the mark (mark, uPnL, maintenance margin,
    liquidation price): the store re-prices from the stored mark until the next full read."""

    symbol: str
    exchange_id: str
    qty: Decimal
    entry_price: Decimal
    margin_mode: str
    leverage: Decimal | None
    initial_margin: Decimal | None
    realized_pnl: Decimal | None
    opened_at: datetime | None
    at: datetime | None


@dataclass(frozen=True)
class BalanceChanged:
    """The wallet: ``cash`` without uPnL, what positions and orders hold, and what is free
    before uPnL (the store adds the positions' uPnL at the stored marks)."""

    cash: Decimal
    locked: Decimal
    margin_used: Decimal
    free: Decimal
    at: datetime | None


@dataclass(frozen=True)
class StreamBreak:
    """The stream (re)connected or lost frames: read the account in full over REST now."""

    reason: str


AccountEvent = OrderChanged | FillReceived | PositionChanged | BalanceChanged | StreamBreak


class AccountStream(Protocol):
    """One linked account's authenticated stream; reconnects (and re-authenticates before its
    credentials expire) by itself. ``events`` raises :class:`venues.errors.AuthExpired` when the
    venue refuses the credentials."""

    @property
    def connected(self) -> bool: ...

    def events(self) -> AsyncIterator[AccountEvent]: ...

    async def close(self) -> None: ...


@runtime_checkable
class AccountEvents(Protocol):
    """A venue adapter whose account streams have landed."""

    def account_stream(
        self,
        endpoints: Endpoints,
        secrets: Callable[[], Mapping[str, str]],
        *,
        ping_every: float,
    ) -> AccountStream:
        """A stream of one account. ``secrets`` is asked before every connection (a re-linked
        account's new credentials are used from the next one on); a connection that has not
        answered a ping for ``ping_every`` seconds is silent and is re-opened."""
        ...
